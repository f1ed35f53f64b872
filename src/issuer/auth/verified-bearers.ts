import type { Identity } from '../auth/identity.js';

interface Entry {
  identity: Identity;
  exp: number;
  iat: number | undefined;
  /** Seconds since the epoch after which the entry is not used (a full check runs again). */
  until: number;
}

/** How long a verified bearer is remembered at most, seconds. */
export const BEARER_MEMORY_SECONDS = 60;

/**
 * A bounded memory of OIDC bearer tokens whose signature and claims were verified, by exact
 * token string. A client sends the same bearer with every request of its session, and checking
 * its signature (RS256 or ES256 through WebCrypto) is most of the cost of a mint; a repeat skips
 * it, as storage does for valet keys (`verified-keys.ts`).
 *
 * A hit re-checks the clock as the full check would (`exp` with the tolerance, the token's age
 * against `maxTokenAge`), and an entry is used for at most {@link BEARER_MEMORY_SECONDS}, so a
 * provider key withdrawn from the JWK set stops its tokens within a minute (jose itself keeps a
 * fetched JWK set for ten). Any other string, even another encoding of the same token, is checked
 * in full.
 */
export class VerifiedBearers {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  /** Uses that skipped the full check (tests, benchmarks). */
  hits = 0;

  constructor(max = 4096) {
    this.#max = max;
  }

  /** The identity of a bearer verified before, if its memory may be used at `nowSeconds`. */
  get(
    token: string,
    nowSeconds: number,
    options: { tolerance: number; maxTokenAge?: number },
  ): Identity | undefined {
    const entry = this.#entries.get(token);
    if (!entry) return undefined;
    const now = Math.floor(nowSeconds);
    const tooOld =
      options.maxTokenAge !== undefined &&
      (entry.iat === undefined || now - entry.iat - options.tolerance > options.maxTokenAge);
    if (now >= entry.until || entry.exp <= now - options.tolerance || tooOld) {
      // Let the full check give the precise answer (expired, too old) or renew the entry.
      this.#entries.delete(token);
      return undefined;
    }
    this.hits++;
    // A copy: what one request's hooks do to the claims does not reach the next.
    return { subject: entry.identity.subject, claims: { ...entry.identity.claims } };
  }

  /** Remembers a bearer that was just verified at `nowSeconds`. */
  set(token: string, identity: Identity, nowSeconds: number): void {
    const { exp, iat } = identity.claims;
    if (typeof exp !== 'number') return;
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, {
      identity,
      exp,
      iat: typeof iat === 'number' ? iat : undefined,
      until: Math.floor(nowSeconds) + BEARER_MEMORY_SECONDS,
    });
  }

  get size(): number {
    return this.#entries.size;
  }
}
