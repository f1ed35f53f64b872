/**
 * Valet's error contract: one error class, a closed set of stable codes, and the single table that
 * maps each code to its HTTP status. Clients branch on `code`, never on `message`.
 *
 * A message never contains a token, a signature or a secret; details for operators go into
 * `cause`, which is logged by the server and never sent to a client.
 */

/** Every stable error code Valet emits, with the HTTP status it is served with. */
export const ERROR_STATUS = {
  /** No valet key in the query string (`vk`) or the `Authorization: Bearer` header. */
  token_missing: 401,
  /** The key is malformed, forged, of the wrong type or signed by a key storage does not trust. */
  token_invalid: 401,
  /** The key's `exp` has passed (beyond the allowed clock skew). */
  token_expired: 403,
  /** The key's `nbf` is still in the future (beyond the allowed clock skew). */
  token_not_yet_valid: 403,
  /** The key is valid for longer than storage's maximum lifetime. */
  token_lifetime_too_long: 403,
  /** A single-use key was already used (or is being used by a concurrent request). */
  token_replayed: 403,
  /** The key is for another object or another operation. */
  scope_mismatch: 403,
  /** The key was revoked before its expiry (by key id, by subject or by signing key). */
  token_revoked: 403,
  /** The issuer could not authenticate the caller (no, malformed, forged or expired bearer token). */
  unauthenticated: 401,
  /** No issuer rule allows this request. */
  forbidden: 403,
  /** The subject's storage quota (bytes or number of objects) would be exceeded. */
  quota_exceeded: 403,
  /** An upload reported done breaks its key's constraints (checked from the store): it was removed. */
  upload_rejected: 422,
  /**
   * An upload's content failed its rule's validation (its true type, a virus scan, the app's own
   * check): it was removed, and the message says why.
   */
  content_rejected: 422,
  /** The object is still being validated: nobody may read or share it until it passes. */
  object_pending: 409,
  /** A webhook or feed request whose HMAC signature is missing, wrong or outside the replay window. */
  signature_invalid: 401,
  /** The client could not reach the server (connection refused, reset or cut). */
  network_error: 502,
  /** The caller aborted the operation. */
  aborted: 499,
  /** The object key in the URL breaks the naming rules. */
  invalid_object_key: 400,
  /** The body is larger than the key allows. */
  entity_too_large: 413,
  /** The body is smaller than the key requires. */
  entity_too_small: 400,
  /** The body ended before its declared `Content-Length`. */
  incomplete_body: 400,
  /** The body's SHA-256 differs from the digest bound in the key. */
  bad_digest: 400,
  /** The request's content type is not one the key allows. */
  unsupported_media_type: 415,
  /** A create-only key met an existing object. */
  precondition_failed: 412,
  /** A resumable upload's chunk was sent at another offset than the one storage holds. */
  offset_mismatch: 409,
  /** The resumable upload is finished, expired or was cancelled. */
  upload_gone: 410,
  /** A resumable upload's chunk does not match its `Upload-Checksum` (tus): it was discarded. */
  checksum_mismatch: 460,
  /** The issuer's store has no resumable uploads: send the body in one request. */
  resumable_unsupported: 400,
  /** No object under that key. */
  not_found: 404,
  /** The byte range cannot be satisfied for this object. */
  invalid_range: 416,
  /** The HTTP method is not supported on this path. */
  method_not_allowed: 405,
  /** A malformed request (bad header, two keys at once, …). */
  bad_request: 400,
  /** A CORS preflight from an origin that is not configured. */
  origin_not_allowed: 403,
  /** The request's header section is larger than the server accepts. */
  headers_too_large: 431,
  /** The client stopped sending (or reading) for longer than the idle timeout. */
  request_timeout: 408,
  /** One client address holds as many connections to storage as it may (storage's per-address limit). */
  too_many_connections: 429,
  /** The disk is full. */
  insufficient_storage: 507,
  /** The server is shutting down, or cannot serve safely right now (stale revocation list). */
  unavailable: 503,
  /** Anything unexpected; details are in the server log only. */
  internal_error: 500,
  /** Invalid options or configuration passed to a Valet factory or command. */
  invalid_options: 500,
  /**
   * A server is set up wrongly (storage and the issuer hold different shared secrets): retrying
   * does not help, an operator must fix it.
   */
  misconfigured: 500,
} as const satisfies Record<string, number>;

/** A stable, documented error code. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** The HTTP status for an error code: the one place where codes map to statuses. */
export function httpStatus(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

// The code for a status that several codes share, when an answer carries no code of its own.
const STATUS_CODE: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'token_invalid',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'offset_mismatch',
  410: 'upload_gone',
  412: 'precondition_failed',
  413: 'entity_too_large',
  415: 'unsupported_media_type',
  416: 'invalid_range',
  422: 'upload_rejected',
  429: 'too_many_connections',
  431: 'headers_too_large',
  460: 'checksum_mismatch',
  499: 'aborted',
  500: 'internal_error',
  502: 'network_error',
  507: 'insufficient_storage',
};

/**
 * The code for an answer that carries none (a proxy's page, a store's own refusal, a tus layer's
 * plain text): the inverse of {@link ERROR_STATUS} where a status has one meaning, else the most
 * general code of its class (`bad_request` for a 4xx, `unavailable` for a 5xx).
 *
 * @example
 * ```ts
 * codeForStatus(413) // 'entity_too_large'
 * codeForStatus(502) // 'network_error' (a gateway that could not reach its server)
 * codeForStatus(504) // 'unavailable' (no code of its own: its class's)
 * ```
 */
export function codeForStatus(status: number): ErrorCode {
  return STATUS_CODE[status] ?? (status >= 500 ? 'unavailable' : 'bad_request');
}

/**
 * The one error class Valet throws. `code` is part of the public contract; `message` is for
 * humans and safe to show to a client; `cause` carries internal detail for the server log.
 *
 * @example
 * ```ts
 * try { await verifyValetKey(token, opts) } catch (e) {
 *   if (e instanceof ValetError && e.code === 'token_expired') renewKey()
 * }
 * ```
 */
export class ValetError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** The HTTP status for this error's code. */
  get status(): number {
    return httpStatus(this.code);
  }

  /** The response body every Valet server sends for a refusal. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** True if `value` is a {@link ValetError}, optionally with the given code. */
export function isValetError(value: unknown, code?: ErrorCode): value is ValetError {
  return value instanceof ValetError && (code === undefined || value.code === code);
}
