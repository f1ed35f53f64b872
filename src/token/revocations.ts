import { z } from 'zod';
import type { ValetClaims } from './claims.js';

/**
 * The revocation list the issuer publishes at `GET /v1/revocations` and storage polls. It holds
 * only revocations that can still matter: a key id until the key expires, a subject cut-off until
 * every key issued before it has expired, a signing key until it leaves the key set.
 *
 * | field          | meaning                                                              |
 * | -------------- | -------------------------------------------------------------------- |
 * | `keys`         | revoked key ids (`jti`), each with the key's `exp`                   |
 * | `subjects`     | `sub` with `before` (seconds): keys issued at or before it are revoked |
 * | `signing_keys` | revoked signing key ids (`kid`): every key they signed is revoked    |
 */
export const revocationListSchema = z.object({
  keys: z.array(z.object({ jti: z.string().min(1).max(128), exp: z.number().int() })).max(1_000_000),
  subjects: z.array(z.object({ sub: z.string().min(1).max(256), before: z.number() })).max(1_000_000),
  signing_keys: z.array(z.string().min(1).max(256)).max(10_000),
});

/** The revocation list, as published. */
export type RevocationList = z.infer<typeof revocationListSchema>;

/** A revocation list indexed for lookups on every request. */
export class RevocationIndex {
  readonly #keys: Set<string>;
  readonly #subjects: Map<string, number>;
  readonly #signingKeys: Set<string>;

  constructor(list: RevocationList = { keys: [], subjects: [], signing_keys: [] }) {
    this.#keys = new Set(list.keys.map((k) => k.jti));
    this.#subjects = new Map();
    for (const { sub, before } of list.subjects) {
      this.#subjects.set(sub, Math.max(before, this.#subjects.get(sub) ?? Number.NEGATIVE_INFINITY));
    }
    this.#signingKeys = new Set(list.signing_keys);
  }

  /** Why a key is revoked, or `undefined` if it is not. */
  reason(claims: ValetClaims, kid: string): 'key' | 'subject' | 'signing_key' | undefined {
    if (this.#keys.has(claims.jti)) return 'key';
    if (this.#signingKeys.has(kid)) return 'signing_key';
    const before = this.#subjects.get(claims.sub);
    if (before !== undefined && claims.iat <= before) return 'subject';
    return undefined;
  }

  /** How many revocations the index holds. */
  get size(): number {
    return this.#keys.size + this.#subjects.size + this.#signingKeys.size;
  }
}
