import * as jose from 'jose';
import { z } from 'zod';
import { VALET_KEY_ALG } from './claims.js';
import { publicKeyProblem } from './ed25519-point.js';
import { ValetError } from './errors.js';

const B64URL_32_BYTES = /^[A-Za-z0-9_-]{43}$/;
const KID = z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'kid must be 1-128 URL-safe characters');

/** A public Ed25519 key as a JWK (RFC 8037), as published in a JWK set. */
export interface PublicSigningJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

/** A private Ed25519 signing key as a JWK: the public part plus the private scalar `d`. */
export interface PrivateSigningJwk extends PublicSigningJwk {
  d: string;
}

/** A JWK set (RFC 7517 §5). */
export interface JwkSet {
  keys: PublicSigningJwk[];
}

const publicJwkSchema = z.object({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().regex(B64URL_32_BYTES),
  kid: KID,
  alg: z.literal(VALET_KEY_ALG).optional(),
  use: z.literal('sig').optional(),
});

const privateJwkSchema = publicJwkSchema.extend({ d: z.string().regex(B64URL_32_BYTES) });

/** A signing key ready to mint with: its id and the imported private key. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: jose.CryptoKey;
  readonly jwk: PrivateSigningJwk;
}

/**
 * Generates a new Ed25519 signing key. Its `kid` is the RFC 7638 thumbprint of the public key,
 * so two different keys never share an id.
 *
 * @example
 * ```ts
 * const jwk = await generateSigningJwk()
 * await writeFile('valet-key.json', JSON.stringify(jwk), { mode: 0o600 })
 * ```
 */
export async function generateSigningJwk(): Promise<PrivateSigningJwk> {
  const { privateKey } = await jose.generateKeyPair(VALET_KEY_ALG, { crv: 'Ed25519', extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  const kid = await jose.calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) });
  return {
    kty: 'OKP',
    crv: 'Ed25519',
    x: String(jwk.x),
    d: String(jwk.d),
    kid,
    alg: VALET_KEY_ALG,
    use: 'sig',
  };
}

/**
 * Checks and imports a private signing JWK (for example the file `valet keygen` wrote). Refuses a
 * key whose public part `x` does not belong to its private part `d`.
 */
export async function importSigningKey(input: unknown): Promise<SigningKey> {
  const parsed = privateJwkSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValetError(
      'invalid_options',
      `not an Ed25519 private signing JWK: ${z.prettifyError(parsed.error)}`,
    );
  }
  const { kty, crv, x, d, kid } = parsed.data;
  const jwk: PrivateSigningJwk = { kty, crv, x, d, kid, alg: VALET_KEY_ALG, use: 'sig' };
  const privateKey = (await jose.importJWK({ kty, crv, x, d }, VALET_KEY_ALG, {
    extractable: true,
  })) as jose.CryptoKey;
  // Re-derive the public key from the private one: a mismatched `x` would publish a key that
  // verifies nothing this key signs.
  const derived = await jose.exportJWK(privateKey);
  if (derived.x !== x)
    throw new ValetError('invalid_options', 'the signing key\'s "x" does not match its "d"');
  return { kid, privateKey, jwk };
}

/** Why a JWK's `x` is unfit to verify with (not 32 bytes of canonical base64url, small-order, non-canonical). */
function xProblem(x: string): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = jose.base64url.decode(x);
  } catch {
    return '"x" is not base64url';
  }
  if (jose.base64url.encode(bytes) !== x) return '"x" is not canonical base64url';
  return publicKeyProblem(bytes);
}

/** The public half of a signing JWK, safe to publish. */
export function publicJwk(jwk: PublicSigningJwk): PublicSigningJwk {
  const { kty, crv, x, kid } = jwk;
  return { kty, crv, x, kid, alg: VALET_KEY_ALG, use: 'sig' };
}

/**
 * The set of public keys a verifier trusts, by `kid`. Built only from configuration, never from
 * anything inside a token. Keys rotate by publishing a set with both the old and the new key for
 * the overlap window, then a set without the old one.
 *
 * @example
 * ```ts
 * const trusted = await TrustedKeys.fromJwks(JSON.parse(await readFile('jwks.json', 'utf8')))
 * await verifyValetKey(token, { keys: trusted })
 * ```
 */
export class TrustedKeys {
  readonly #byKid: ReadonlyMap<string, jose.CryptoKey>;

  private constructor(byKid: ReadonlyMap<string, jose.CryptoKey>) {
    this.#byKid = byKid;
  }

  /**
   * Builds a trusted set from a JWK set. Every key must be a public Ed25519 key with a unique
   * `kid`; a set with private key material or a key of another type is refused, not trimmed.
   */
  static async fromJwks(input: unknown): Promise<TrustedKeys> {
    const envelope = z.object({ keys: z.array(z.unknown()).min(1) }).safeParse(input);
    if (!envelope.success)
      throw new ValetError('invalid_options', 'a JWK set needs a non-empty "keys" array');
    const byKid = new Map<string, jose.CryptoKey>();
    for (const [i, raw] of envelope.data.keys.entries()) {
      if (raw !== null && typeof raw === 'object' && 'd' in raw) {
        throw new ValetError('invalid_options', `JWK set entry ${i} holds private key material`);
      }
      const parsed = publicJwkSchema.safeParse(raw);
      if (!parsed.success) {
        throw new ValetError('invalid_options', `JWK set entry ${i} is not a public Ed25519 key with a kid`);
      }
      const { kty, crv, x, kid } = parsed.data;
      if (byKid.has(kid)) throw new ValetError('invalid_options', `JWK set has two keys with kid ${kid}`);
      const problem = xProblem(x);
      if (problem) throw new ValetError('invalid_options', `JWK set entry ${i} (kid ${kid}): ${problem}`);
      byKid.set(kid, (await jose.importJWK({ kty, crv, x }, VALET_KEY_ALG)) as jose.CryptoKey);
    }
    return new TrustedKeys(byKid);
  }

  /** The key with this id, or undefined. */
  get(kid: string): jose.CryptoKey | undefined {
    return this.#byKid.get(kid);
  }

  /** The ids of the trusted keys. */
  get kids(): string[] {
    return [...this.#byKid.keys()];
  }
}

/** Anything that finds a trusted public key by `kid`. */
export interface KeyResolver {
  get(kid: string): jose.CryptoKey | undefined | Promise<jose.CryptoKey | undefined>;
}
