import { type ErrorCode, ValetError } from '../token/errors.js';
import { ERROR_PAGE_HEADERS, errorPage, wantsHtml } from './error-page.js';

/** Every refusal, from the issuer and storage alike. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/**
 * Every refusal Valet's servers send, rendered in one place: the status from the code's one entry
 * in `ERROR_STATUS`, the body `{"error":{"code","message"}}` as `application/json`, never cached.
 */
export interface RenderedError {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The error that was rendered (an unexpected one wrapped as `internal_error`). */
  error: ValetError;
}

/** The headers every JSON answer of the issuer and storage carries. */
export const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'x-content-type-options': 'nosniff',
} as const;

/**
 * Anything thrown as a {@link ValetError}: a `ValetError` as it is, anything else as
 * `internal_error` with `message` for the client and the original kept in `cause` (for the log).
 */
export function asValetError(
  error: unknown,
  message = 'the server failed to handle the request',
): ValetError {
  return error instanceof ValetError ? error : new ValetError('internal_error', message, { cause: error });
}

/**
 * The answer for a refusal. With `html` (a person opened a link in a browser), a readable page
 * instead of JSON. A 401 says how to authenticate (RFC 6750 §3: `WWW-Authenticate: Bearer`, with
 * `error="invalid_token"` when a key or token was presented and refused).
 *
 * @example
 * ```ts
 * const { status, headers, body } = renderError(new ValetError('not_found', 'no such object'))
 * // 404, application/json, {"error":{"code":"not_found","message":"no such object"}}
 * ```
 */
export function renderError(error: unknown, options: { html?: boolean } = {}): RenderedError {
  const failure = asValetError(error);
  const { status } = failure;
  const headers: Record<string, string> = { ...JSON_HEADERS, 'cache-control': 'no-store' };
  if (status === 401) {
    headers['www-authenticate'] =
      failure.code === 'token_invalid'
        ? 'Bearer realm="valet", error="invalid_token"'
        : 'Bearer realm="valet"';
  }
  if (options.html) {
    const page = errorPage(status, failure.code, failure.message);
    return { status, headers: { ...headers, ...ERROR_PAGE_HEADERS }, body: page, error: failure };
  }
  return { status, headers, body: JSON.stringify(failure.toJSON()), error: failure };
}

/** True if an `Accept` header asks for the HTML page (see {@link renderError}). */
export { wantsHtml };
