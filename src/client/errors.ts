import { codeForStatus, ERROR_STATUS, type ErrorCode, ValetError } from '../token/errors.js';
import type { ErrorBody } from '../wire/errors.js';

/** A refusal as a {@link ValetError} with the server's stable code (or the one its status implies). */
/**
 * Whether the store took what was sent: a 2xx, or GCS's `308 Resume Incomplete` (no `Location`)
 * for a resumable session's chunk it stored, the object not yet whole.
 */
export function stored(response: Response): boolean {
  return response.ok || (response.status === 308 && !response.headers.has('location'));
}

export async function errorFrom(response: Response): Promise<ValetError> {
  return refusal(response, await response.text().catch(() => '')).error;
}

/**
 * A refusal from what was called as the issuer. An answer that is not a Valet server's (an app's
 * own 404 page: the issuer URL lacks the path the app mounts Valet under) says so, and what to fix.
 */
export async function issuerErrorFrom(response: Response, issuer: string, path: string): Promise<ValetError> {
  const { error, valet } = refusal(response, await response.text().catch(() => ''));
  if (valet || response.status !== 404) return error;
  return notAnIssuer(issuer, path, "answered 404 with a page that is not a Valet issuer's");
}

/** The error for an answer from something that is not a Valet issuer, with the likely fix. */
export function notAnIssuer(issuer: string, path: string, what: string): ValetError {
  return new ValetError(
    'not_found',
    `${issuer}${path} ${what}: is ${issuer} your issuer's URL? If your app mounts Valet under a path ` +
      '(such as /api/valet), the issuer URL must end with it',
  );
}

function refusal(response: Response, text: string): { error: ValetError; valet: boolean } {
  let code: ErrorCode | undefined;
  let message = `the server answered ${response.status}`;
  let valet = false;
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (body.error?.code && body.error.code in ERROR_STATUS) code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
    valet = code !== undefined;
  } catch {
    // Not a Valet error body: an object store's own code (Azure's x-ms-error-code, the <Code> of
    // an S3 or Azure XML error) says why; a proxy's page says nothing, and the status stays.
    const storeCode =
      response.headers.get('x-ms-error-code') ?? /<Code>([A-Za-z0-9.]{1,64})<\/Code>/.exec(text)?.[1];
    if (storeCode) message = `the store answered ${response.status} (${storeCode})`;
  }
  return { error: new ValetError(code ?? codeForStatus(response.status), message), valet };
}

/** Why a connection failed, from the system's error code, in words. */
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'the host name could not be resolved',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** A request that got no answer, from the issuer or from storage (the CLI's advice follows it). */
export class NetworkError extends ValetError {
  readonly target: 'issuer' | 'storage';

  constructor(target: 'issuer' | 'storage', message: string, options?: { cause?: unknown }) {
    super('network_error', message, options);
    this.target = target;
  }
}

/**
 * A request that never got an answer: `aborted` if the caller aborted, else `network_error`
 * naming what it called (`target`) and where (`where`: the issuer's base URL, or a store's
 * origin; never a query string, which may hold a key) and why, when the system said. In a
 * browser, a store's CORS refusal looks exactly like a store that is down: both are named.
 */
export function networkError(
  error: unknown,
  signal: AbortSignal | null | undefined,
  where: string,
  target: 'issuer' | 'storage',
): ValetError {
  if (signal?.aborted) return new ValetError('aborted', 'the operation was aborted', { cause: error });
  const reason = NETWORK_REASONS[systemCode(error) ?? ''];
  const place = `${target === 'issuer' ? 'the issuer' : 'storage'} at ${describe(where)}`;
  const page = pageOrigin();
  if (target === 'storage' && reason === undefined && page !== undefined && page !== originOf(where)) {
    return new NetworkError(
      target,
      `could not reach ${place}. If it is running, it refuses this page's origin (${page}) by CORS: ` +
        `start storage with --cors-origin ${page}`,
      { cause: error },
    );
  }
  return new NetworkError(target, `could not reach ${place}${reason ? ` (${reason})` : ''}`, {
    cause: error,
  });
}

/** The origin of the page this runs in (a browser), or undefined (Node, a worker without one). */
function pageOrigin(): string | undefined {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  return typeof origin === 'string' && origin !== 'null' ? origin : undefined;
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** An error's system code, also where fetch wraps it (`TypeError: fetch failed`, cause…). */
function systemCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('E')) return code;
  }
  return undefined;
}

/** A URL without its query or fragment; a store's URL (with a key in it): its origin only. */
function describe(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.search) return parsed.origin;
    return `${parsed.origin}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return 'the server';
  }
}

/** The error of an aborted operation. */
export function aborted(cause?: unknown): ValetError {
  return new ValetError('aborted', 'the operation was aborted', cause === undefined ? undefined : { cause });
}
