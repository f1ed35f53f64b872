import type { CryptoKey } from 'jose';
import { ValetError } from './errors.js';

/**
 * HMAC-SHA256 signatures between storage and the issuer: storage signs the completion webhooks it
 * sends and its requests for the revocation feed with a secret both sides share.
 *
 * The signed string is `<timestamp>.<method> <path>.<body>` so that a signature cannot be moved to
 * another endpoint, another body or another time. The header is
 * `Valet-Signature: t=<unix seconds>,v1=<hex HMAC>`; a verifier refuses a timestamp outside its
 * replay window (default 300 s) and compares in constant time (WebCrypto `verify`).
 */
export const SIGNATURE_HEADER = 'valet-signature';

/** Default replay window, seconds either side of the verifier's clock. */
export const DEFAULT_SIGNATURE_WINDOW = 300;

/** Shortest shared secret accepted, in bytes (256 bits). */
export const MIN_SECRET_BYTES = 32;

const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    if (encoder.encode(secret).length < MIN_SECRET_BYTES) {
      throw new ValetError('invalid_options', `a shared secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    key = globalThis.crypto.subtle.importKey(
      'raw',
      encoder.encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    if (keyCache.size > 16) keyCache.clear();
    keyCache.set(secret, key);
  }
  return key;
}

function signedBytes(timestamp: number, method: string, path: string, body: string): Uint8Array {
  return encoder.encode(`${timestamp}.${method.toUpperCase()} ${path}.${body}`);
}

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

function fromHex(hex: string): Uint8Array | undefined {
  if (!/^(?:[0-9a-f]{2})+$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** What a `Valet-Signature` (HMAC between storage and issuer) covers. */
export interface HmacSignedRequest {
  method: string;
  /** The URL path (no query). */
  path: string;
  /** The exact body text; empty for a GET. */
  body: string;
}

/**
 * Signs a request; returns the `Valet-Signature` header value.
 *
 * @example
 * ```ts
 * const header = await signRequest(secret, { method: 'POST', path: '/v1/events', body })
 * await fetch(url, { method: 'POST', body, headers: { 'valet-signature': header } })
 * ```
 */
export async function signRequest(
  secret: string,
  request: HmacSignedRequest,
  nowMs = Date.now(),
): Promise<string> {
  const t = Math.floor(nowMs / 1000);
  const mac = await globalThis.crypto.subtle.sign(
    'HMAC',
    await hmacKey(secret),
    signedBytes(t, request.method, request.path, request.body),
  );
  return `t=${t},v1=${toHex(mac)}`;
}

/**
 * Checks a `Valet-Signature` header. Throws `signature_invalid` when it is missing, malformed,
 * wrong or outside the replay window.
 */
export async function verifyRequestSignature(
  secret: string,
  header: string | null | undefined,
  request: HmacSignedRequest,
  options: { now?: number; window?: number } = {},
): Promise<void> {
  const match = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!match) throw new ValetError('signature_invalid', 'the request is not signed');
  const t = Number(match[1]);
  const now = (options.now ?? Date.now()) / 1000;
  const window = options.window ?? DEFAULT_SIGNATURE_WINDOW;
  if (Math.abs(now - t) > window) {
    // The two clocks disagree, or the request was replayed: say by how much (no secret in it).
    throw new ValetError(
      'signature_invalid',
      `the signature is dated ${Math.round(t - now)} s from this side's clock, outside the ${window} s replay window (clock skew?)`,
    );
  }
  const mac = fromHex(match[2] as string) as Uint8Array;
  const ok = await globalThis.crypto.subtle.verify(
    'HMAC',
    await hmacKey(secret),
    mac,
    signedBytes(t, request.method, request.path, request.body),
  );
  if (!ok) {
    // What this side checked, so the other side can compare with what it signed (a path that a
    // proxy or the app's mount changed is the usual cause, after a different secret).
    throw new ValetError(
      'signature_invalid',
      `the signature does not match ${request.method} ${request.path} as this side checked it (another secret, path or body was signed)`,
    );
  }
}
