import * as jose from 'jose';
import { VALET_KEY_ALG, VALET_KEY_TYP, type ValetClaims, valetClaimsSchema } from './claims.js';
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

  let payload: jose.JWTPayload;
  let used: { kid: string; key: jose.CryptoKey } | undefined;
  try {
    ({ payload } = await jose.jwtVerify(
      token,
      async (header) => {
        used = await resolveKey(header, options.keys);
        return used.key;
      },
      {
        algorithms: [VALET_KEY_ALG],
        currentDate: new Date(now),
        clockTolerance: skew,
        requiredClaims: ['exp', 'nbf', 'iat', 'jti', 'sub'],
      },
    ));
  } catch (error) {
    throw toValetError(error);
  }

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
  if (!used) throw new ValetError('token_invalid', 'the valet key was not checked against a key');
  return { claims, ...used };
}

async function resolveKey(
  header: jose.JWSHeaderParameters,
  keys: KeyResolver,
): Promise<{ kid: string; key: jose.CryptoKey }> {
  if (header.alg !== VALET_KEY_ALG)
    throw new ValetError('token_invalid', 'the valet key has the wrong algorithm');
  if (header.typ !== VALET_KEY_TYP) throw new ValetError('token_invalid', 'the token is not a valet key');
  for (const name of KEY_REFERENCE_HEADERS) {
    if (name in header) throw new ValetError('token_invalid', 'the valet key names its own verification key');
  }
  if (typeof header.kid !== 'string') throw new ValetError('token_invalid', 'the valet key has no key id');
  const key = await keys.get(header.kid);
  if (!key) throw new ValetError('token_invalid', 'the valet key is signed by an unknown or retired key');
  return { kid: header.kid, key };
}

function toValetError(error: unknown): ValetError {
  if (error instanceof ValetError) return error;
  if (error instanceof jose.errors.JWTExpired) {
    return new ValetError('token_expired', 'the valet key has expired', { cause: error });
  }
  if (error instanceof jose.errors.JWTClaimValidationFailed && error.claim === 'nbf') {
    return new ValetError('token_not_yet_valid', 'the valet key is not valid yet', { cause: error });
  }
  return new ValetError('token_invalid', 'the valet key is invalid', { cause: error });
}
