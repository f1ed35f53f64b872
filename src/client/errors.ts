import { codeForStatus, ERROR_STATUS, type ErrorCode, ValetError } from '../token/errors.js';
import type { ErrorBody } from '../wire/errors.js';

/** A refusal as a {@link ValetError} with the server's stable code (or the one its status implies). */
export async function errorFrom(response: Response): Promise<ValetError> {
  let code: ErrorCode | undefined;
  let message = `the server answered ${response.status}`;
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (body.error?.code && body.error.code in ERROR_STATUS) code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // Not a Valet error body: an object store's own code (Azure's x-ms-error-code, the <Code> of
    // an S3 or Azure XML error) says why; a proxy's page says nothing, and the status stays.
    const storeCode =
      response.headers.get('x-ms-error-code') ?? /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(text)?.[1];
    if (storeCode) message = `the store answered ${response.status} (${storeCode})`;
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
