import { ValetError } from '../token/errors.js';
import { type JwkSet, type PrivateSigningJwk, publicJwk, type SigningKey } from '../token/keys.js';

/**
 * The issuer's signing keys: the first one not revoked signs; every one not revoked is published
 * in the JWK set storage trusts. A revoked key signs no more and leaves the set.
 */
export class SigningKeys {
  readonly #keys: readonly SigningKey[];
  readonly #public: ReadonlyMap<string, ReturnType<typeof publicJwk>>;
  readonly #revoked: Set<string>;

  constructor(keys: readonly SigningKey[], jwks: readonly PrivateSigningJwk[], revoked: Iterable<string>) {
    this.#keys = keys;
    this.#public = new Map(jwks.map((jwk) => [jwk.kid, publicJwk(jwk)]));
    this.#revoked = new Set(revoked);
  }

  /** The key that signs now; `unavailable` once every key is revoked. */
  active(): SigningKey {
    const key = this.#keys.find((k) => !this.#revoked.has(k.kid));
    if (!key) throw new ValetError('unavailable', 'every signing key is revoked');
    return key;
  }

  /** Stops signing with `kid` and unpublishes it. */
  revoke(kid: string): void {
    this.#revoked.add(kid);
  }

  /** The public keys of the keys not revoked. */
  jwks(): JwkSet {
    return { keys: [...this.#public.values()].filter((k) => !this.#revoked.has(k.kid)) };
  }
}
