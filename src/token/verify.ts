import * as jose from 'jose';
import { VALET_KEY_ALG, VALET_KEY_TYP, type ValetClaims, valetClaimsSchema } from './claims.js';
import { verifyJwsEd25519 } from './ed25519.js';
import { ValetError } from './errors.js';
import type { KeyResolver } from './keys.js';

/** Options for {@link verifyValetKey}. */
export interface VerifyOptions {
  /** The trusted public keys, by `kid` (a {@link TrustedKeys} or any resolver). */
  keys: KeyResolver;
  /** The clock, in milliseconds since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Allowed clock skew between issuer and verifier, in seconds. Default 60. */
  clockSkew?: number;
  /** Longest lifetime (`exp` minus the earlier of `iat` and `nbf`) accepted, in seconds. Default 3600. */
  maxLifetime?: number;
}

/** Default allowed clock skew, seconds. */
export const DEFAULT_CLOCK_SKEW = 60;
/** Default maximum key lifetime, seconds. */
export const DEFAULT_MAX_LIFETIME = 3600;
/** Longest token accepted, in characters (a valet key with every claim at its limit is about 3 KB). */
export const MAX_TOKEN_LENGTH = 8192;

// Header parameters that would let a token name its own verification key (RFC 7515 §4.1.2-4.1.6).
// The key is looked up by `kid` among configured keys only, so a token carrying them is refused.
const KEY_REFERENCE_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'];
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * True if `part` is exactly what its bytes encode to: no impossible length, and the padding bits
 * of its last character zero (COMPACT_JWS already allows only the base64url alphabet). Read off
 * the last character, without decoding the part a second time.
 */
function canonicalBase64url(part: string): boolean {
  const rest = part.length % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const bits = B64URL.indexOf(part[part.length - 1] as string);
  // 2 characters carry 1 byte and 4 padding bits; 3 characters carry 2 bytes and 2 padding bits.
  return (bits & (rest === 2 ? 0b1111 : 0b11)) === 0;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Verifies a valet key and returns its claims. Only `EdDSA` with the valet `typ` is accepted; the
 * key is found by `kid` in `options.keys`. Throws a {@link ValetError} with code `token_invalid`,
 * `token_expired`, `token_not_yet_valid` or `token_lifetime_too_long`. It does not check scope
 * (object, operation) or single use: that is the caller's job with the returned claims.
 *
 * @example
 * ```ts
 * const claims = await verifyValetKey(token, { keys: trusted, now: () => clock.now() })
 * if (claims.op !== 'get' || claims.obj !== objectKey) throw new ValetError('scope_mismatch', '…')
 * ```
 */
export async function verifyValetKey(token: string, options: VerifyOptions): Promise<ValetClaims> {
  return (await verifyValetKeyWithKey(token, options)).claims;
}

/** A verified key's claims, with the id and the public key its signature was checked with. */
export interface VerifiedKey {
  claims: ValetClaims;
  kid: string;
  key: jose.CryptoKey;
}

/** Like {@link verifyValetKey}, and also tells which trusted key verified the signature. */
export async function verifyValetKeyWithKey(token: string, options: VerifyOptions): Promise<VerifiedKey> {
  const now = (options.now ?? Date.now)();
  const skew = options.clockSkew ?? DEFAULT_CLOCK_SKEW;
  const maxLifetime = options.maxLifetime ?? DEFAULT_MAX_LIFETIME;
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
    throw new ValetError('token_invalid', 'the valet key is malformed');
  }
  // One key, one text: base64url with non-zero padding bits decodes to the same bytes, and would
  // let caches, WAF rules and the verified-key cache see two keys where there is one.
  if (!token.split('.').every(canonicalBase64url)) {
    throw new ValetError('token_invalid', 'the valet key is not in canonical base64url');
  }

  const lastDot = token.lastIndexOf('.');
  // jose parses the header and the claims (strict UTF-8, top-level JSON objects only).
  let header: jose.ProtectedHeaderParameters;
  let payload: jose.JWTPayload;
  try {
    header = jose.decodeProtectedHeader(token);
    payload = jose.decodeJwt(token);
  } catch (cause) {
    throw new ValetError('token_invalid', 'the valet key is invalid', { cause });
  }
  const kid = checkHeader(header);
  const found = options.keys.get(kid);
  const key = found instanceof Promise ? await found : found;
  if (!key) throw new ValetError('token_invalid', 'the valet key is signed by an unknown or retired key');
  let valid: boolean | Promise<boolean>;
  try {
    valid = verifyJwsEd25519(key, token.slice(0, lastDot), token.slice(lastDot + 1));
    if (valid instanceof Promise) valid = await valid;
  } catch (cause) {
    throw new ValetError('token_invalid', 'the valet key is invalid', { cause });
  }
  if (!valid) throw new ValetError('token_invalid', 'the valet key is invalid');
  checkClock(payload, now, skew);

  const parsed = valetClaimsSchema.safeParse(payload);
  if (!parsed.success) {
    throw new ValetError('token_invalid', 'the valet key has invalid claims', { cause: parsed.error });
  }
  const claims = parsed.data;
  const nowSeconds = now / 1000;
  if (claims.iat > nowSeconds + skew) {
    throw new ValetError('token_not_yet_valid', 'the valet key was issued in the future');
  }
  if (claims.exp - Math.min(claims.iat, claims.nbf) > maxLifetime) {
    throw new ValetError('token_lifetime_too_long', `the valet key lives longer than ${maxLifetime} s`);
  }
  return { claims, kid, key };
}

/**
 * The protected header's rules, as jose's `jwtVerify` applied them for this key type, plus the
 * valet rules: `crit` may only name `b64` (the one extension jose recognises for a JWS) with
 * `b64: true`; `alg` EdDSA; `typ` valet-key+jwt; no header that names its own key; a string `kid`.
 * Returns the `kid`.
 */
function checkHeader(header: jose.ProtectedHeaderParameters): string {
  if (header.crit !== undefined) {
    const crit: unknown = header.crit;
    const onlyB64 = Array.isArray(crit) && crit.length > 0 && crit.every((name) => name === 'b64');
    if (!onlyB64 || header.b64 !== true) {
      throw new ValetError('token_invalid', 'the valet key has critical header parameters');
    }
  }
  if (header.alg !== VALET_KEY_ALG)
    throw new ValetError('token_invalid', 'the valet key has the wrong algorithm');
  if (header.typ !== VALET_KEY_TYP) throw new ValetError('token_invalid', 'the token is not a valet key');
  for (const name of KEY_REFERENCE_HEADERS) {
    if (name in header) throw new ValetError('token_invalid', 'the valet key names its own verification key');
  }
  if (typeof header.kid !== 'string') throw new ValetError('token_invalid', 'the valet key has no key id');
  return header.kid;
}

const REQUIRED_CLAIMS = ['sub', 'jti', 'iat', 'nbf', 'exp'] as const;

/**
 * The registered claims' presence and the clock, in jose's order and with its arithmetic (whole
 * seconds: the clock is floored): `exp` at or before now minus the skew has expired, `nbf` after
 * now plus the skew is not valid yet. The claims' types and limits are the schema's job after.
 */
function checkClock(payload: jose.JWTPayload, now: number, skew: number): void {
  for (const claim of REQUIRED_CLAIMS) {
    if (!Object.hasOwn(payload, claim)) {
      throw new ValetError('token_invalid', `the valet key has no "${claim}" claim`);
    }
  }
  const { iat, nbf, exp } = payload;
  const nowSeconds = Math.floor(now / 1000);
  if (typeof iat !== 'number' || typeof nbf !== 'number') {
    throw new ValetError('token_invalid', 'the valet key has invalid claims');
  }
  if (nbf > nowSeconds + skew) throw new ValetError('token_not_yet_valid', 'the valet key is not valid yet');
  if (typeof exp !== 'number') throw new ValetError('token_invalid', 'the valet key has invalid claims');
  if (exp <= nowSeconds - skew) throw new ValetError('token_expired', 'the valet key has expired');
}
