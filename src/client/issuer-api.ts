import { fromWire, type Wire } from '../wire/case.js';
import type { KeyRequestBody } from '../wire/issuer-api.js';
import type { MintedKey } from '../wire/keys.js';
import type { ClientContext } from './context.js';
import { issuerErrorFrom, networkError, notAnIssuer } from './errors.js';
import { withRetry } from './retry.js';

/** Keys this close to expiry are not used to start a transfer: a fresh one is asked for. */
const EXPIRY_MARGIN_MS = 2_000;

/**
 * A call to the issuer's API with the caller's bearer token, retried after transient failures;
 * a refusal becomes a `ValetError` with the issuer's code. Answers are the wire's (snake_case).
 */
export async function issuerCall<T>(
  ctx: ClientContext,
  method: string,
  path: string,
  body: unknown,
  signal: AbortSignal | undefined,
  attempts = ctx.retries + 1,
): Promise<T> {
  return withRetry(ctx, attempts, signal, async () => {
    const token = await ctx.options.getToken();
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await ctx.fetch(`${ctx.issuer}${path}`, {
        method,
        headers,
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal,
      });
    } catch (error) {
      throw networkError(error, signal, ctx.issuer, 'issuer');
    }
    if (!response.ok) throw await issuerErrorFrom(response, ctx.issuer, path);
    if (response.status === 204) return undefined as T;
    // An app's page (a single-page app answers every path with its HTML) is no issuer's answer.
    if (!response.headers.get('content-type')?.includes('json')) {
      await response.body?.cancel();
      throw notAnIssuer(
        ctx.issuer,
        path,
        `answered ${response.status} with ${response.headers.get('content-type') ?? 'no content type'}, not JSON`,
      );
    }
    return (await response.json()) as T;
  });
}

/** An issuer call whose answer is a body declared in wire/: read once, in the code's casing. */
export async function issuerAnswer<T>(
  ctx: ClientContext,
  method: string,
  path: string,
  body: unknown,
  signal: AbortSignal | undefined,
  attempts = ctx.retries + 1,
): Promise<T> {
  return fromWire<T>(await issuerCall<Wire<T>>(ctx, method, path, body, signal, attempts));
}

/** Asks for a key (once: the transfer's loop retries the whole attempt), again if it would expire before use. */
export async function freshKey(
  ctx: ClientContext,
  request: KeyRequestBody,
  signal: AbortSignal | undefined,
  onRequest?: () => void,
): Promise<MintedKey> {
  for (let i = 0; ; i++) {
    onRequest?.();
    const key = await issuerAnswer<MintedKey>(ctx, 'POST', '/v1/keys', request, signal, 1);
    if (Date.parse(key.expiresAt) - ctx.now() > EXPIRY_MARGIN_MS || i >= 1) return key;
  }
}
