import { ValetError } from '../token/errors.js';
import type { ValidationState } from '../wire/validations.js';
import type { ClientContext } from './context.js';
import { issuerAnswer } from './issuer-api.js';

export type { ValidationState };

/** How long one request waits at the issuer for a verdict, seconds (the issuer allows 25). */
const WAIT_SECONDS = 20;

/**
 * Waits for the verdict on the upload `id` (its key id, or its resumable upload's id): asks the
 * issuer, which answers as soon as the validators decide (or after {@link WAIT_SECONDS} with
 * `pending`, and it asks again). Resolves with the final state: `published`, `rejected` with its
 * reason, or `replaced`.
 */
export async function awaitVerdict(
  ctx: ClientContext,
  id: string,
  signal: AbortSignal | undefined,
): Promise<ValidationState> {
  for (;;) {
    const state = await issuerAnswer<ValidationState>(
      ctx,
      'GET',
      `/v1/keys/${encodeURIComponent(id)}/validation?wait=${WAIT_SECONDS}`,
      undefined,
      signal,
    );
    if (state.status !== 'pending') return state;
  }
}

/** The error `upload()` rejects with for a verdict other than `published`. */
export function verdictError(state: ValidationState): ValetError | undefined {
  if (state.status === 'rejected') {
    return new ValetError(
      'content_rejected',
      `the upload was rejected and removed: ${state.reason ?? 'it failed a check'}`,
    );
  }
  if (state.status === 'replaced') {
    return new ValetError(
      'precondition_failed',
      'the object was replaced or deleted before this upload was checked: it was never published',
    );
  }
  return undefined;
}
