import { codeForStatus, ERROR_STATUS, type ErrorCode, ValetError } from '../token/errors.js';
import type { ErrorBody } from '../wire/errors.js';

/** A refusal as a {@link ValetError} with the server's stable code (or the one its status implies). */
export async function errorFrom(response: Response): Promise<ValetError> {
  let code: ErrorCode | undefined;
  let message = `the server answered ${response.status}`;
  try {
    const body = (await response.json()) as Partial<ErrorBody>;
    if (body.error?.code && body.error.code in ERROR_STATUS) code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // Not a Valet error body (a proxy's page, say): keep the status.
  }
  return new ValetError(code ?? codeForStatus(response.status), message);
}

/** A request that never got an answer: `aborted` if the caller aborted, else `network_error`. */
export function networkError(error: unknown, signal: AbortSignal | null | undefined): ValetError {
  if (signal?.aborted) return new ValetError('aborted', 'the operation was aborted', { cause: error });
  return new ValetError('network_error', 'the server could not be reached', { cause: error });
}

/** The error of an aborted operation. */
export function aborted(cause?: unknown): ValetError {
  return new ValetError('aborted', 'the operation was aborted', cause === undefined ? undefined : { cause });
}
