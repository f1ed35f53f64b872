import type * as jose from 'jose';
import type { ValetClaims } from '../../token/claims.js';
import type { KeyResolver } from '../../token/keys.js';

interface Entry {
  claims: ValetClaims;
  kid: string;
  key: jose.CryptoKey;
}

/**
 * A bounded memory of valet keys whose signature and claims were already verified, by exact
 * token string. A key is often used more than once (a `<video>` fetches many ranges with one URL,
 * clients retry, HEAD then GET), and checking an Ed25519 signature costs more CPU than serving a
 * small object, so a repeat use skips it.
 *
 * A hit is only the signature and claim-shape check: the clock checks (`exp`, `nbf`, `iat` with
 * the skew) run again on every use, the signing key must still be trusted and be the very key
 * that verified the token (so a retired or replaced key ends its tokens at once), and single use
 * is enforced by the ledger as before. Only the exact string hits: any other string, including
 * another encoding of the same signature, is verified in full.
 */
export class VerifiedKeys {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;

  constructor(max = 4096) {
    this.#max = max;
  }

  /** A token verified before, if it is still valid at `nowSeconds`; else undefined. */
  get(
    token: string,
    keys: KeyResolver,
    nowSeconds: number,
    skew: number,
  ): { claims: ValetClaims; kid: string } | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    const { claims } = entry;
    const expired = nowSeconds >= claims.exp + skew;
    if (expired || keys.get(entry.kid) !== entry.key) {
      this.#entries.delete(token);
      return undefined;
    }
    // Not yet valid (or issued in the future): let the full verification give the precise error.
    if (claims.nbf > nowSeconds + skew || claims.iat > nowSeconds + skew) return undefined;
    return { claims, kid: entry.kid };
  }

  /** Remembers a token that was just verified with `key` (found by `kid`). */
  set(token: string, claims: ValetClaims, kid: string, key: jose.CryptoKey): void {
    if (this.#entries.size >= this.#max) {
      // Evict the oldest insertion; a Map iterates in insertion order.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, { claims, kid, key });
  }

  get size(): number {
    return this.#entries.size;
  }
}
