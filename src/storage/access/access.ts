import type http from 'node:http';
import { isDiskFull } from '../../sqlite/database.js';
import type { ValetClaims } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import type { KeyResolver } from '../../token/keys.js';
import { KEY_QUERY_PARAM } from '../../token/mint.js';
import { verifyValetKeyWithKey } from '../../token/verify.js';
import type { UsedKeyLedger } from './ledger.js';
import type { RevocationFeed } from './revocations.js';
import { VerifiedKeys } from './verified-keys.js';

/** What {@link KeyAccess} checks keys with. */
export interface AccessOptions {
  keys: KeyResolver;
  now: () => number;
  /** Allowed clock skew, seconds. */
  skew: number;
  /** Longest key lifetime accepted, seconds. */
  maxLifetime: number;
  /** The issuer's revocation list, if storage polls one. */
  feed: RevocationFeed | undefined;
  ledger: UsedKeyLedger;
}

/**
 * Who may do what at storage: a request's valet key is verified (or recalled as verified), checked
 * against the revocation list, and, if single-use, used once: refused while another request uses
 * it, and recorded in the ledger before its effect becomes visible.
 */
export class KeyAccess {
  readonly #options: AccessOptions;
  readonly #verified = new VerifiedKeys();
  // Single-use keys whose request is in progress: a concurrent use is refused at once.
  readonly #inUse = new Set<string>();

  constructor(options: AccessOptions) {
    this.#options = options;
  }

  /** Verifies a valet key (or recalls that this exact token verified and is still valid), then its revocation. */
  async verify(token: string): Promise<{ claims: ValetClaims; kid: string }> {
    const { keys, now, skew, maxLifetime } = this.#options;
    let known = this.#verified.get(token, keys, now() / 1000, skew);
    if (!known) {
      const { claims, kid, key } = await verifyValetKeyWithKey(token, {
        keys,
        now,
        clockSkew: skew,
        maxLifetime,
      });
      this.#verified.set(token, claims, kid, key);
      known = { claims, kid };
    }
    this.checkRevoked(known.claims, known.kid);
    return known;
  }

  /** `403 token_revoked` if the key (these claims, signed by `kid`) was revoked. */
  checkRevoked(claims: ValetClaims, kid: string): void {
    this.#options.feed?.check(claims, kid);
  }

  /** Single use, step 1: refuse a key that was used or is in use right now. */
  reserve(claims: ValetClaims): void {
    if (this.#inUse.has(claims.jti) || this.#options.ledger.has(claims.jti)) {
      throw new ValetError('token_replayed', 'this single-use valet key was already used');
    }
    this.#inUse.add(claims.jti);
  }

  /** Single use: the request that reserved the key is over. */
  release(claims: ValetClaims): void {
    this.#inUse.delete(claims.jti);
  }

  /** Single use, step 2: record the use durably, before the effect becomes visible. */
  consume(claims: ValetClaims): void {
    if (claims.once) this.use(claims.jti, claims.exp, 'this single-use valet key was already used');
  }

  /** Records `jti` as used until `exp` (and the skew); `token_replayed` with `message` if it already was. */
  use(jti: string, exp: number, message: string): void {
    let fresh: boolean;
    try {
      fresh = this.#options.ledger.consume(jti, exp + this.#options.skew);
    } catch (error) {
      // A full disk: the use cannot be recorded, so it is refused (fail closed), as 507.
      if (isDiskFull(error)) {
        throw new ValetError(
          'insufficient_storage',
          'storage is out of space: this single-use key cannot be used now',
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    if (!fresh) throw new ValetError('token_replayed', message);
  }
}

/** How many times a header (lower-case name) came in the request. */
function headerCount(req: http.IncomingMessage, name: string): number {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if ((req.rawHeaders[i] as string).toLowerCase() === name) count++;
  }
  return count;
}

/** The valet key of a request: `?vk=` or `Authorization: Bearer`, exactly one of them. */
export function extractToken(req: http.IncomingMessage, rawQuery: string): string {
  const fromQuery = rawQuery === '' ? [] : new URLSearchParams(rawQuery).getAll(KEY_QUERY_PARAM);
  if (fromQuery.length > 1) throw new ValetError('bad_request', `more than one ${KEY_QUERY_PARAM} parameter`);
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    // Node keeps the first of several Authorization headers: more than one is ambiguous.
    if (headerCount(req, 'authorization') > 1)
      throw new ValetError('bad_request', 'more than one Authorization header');
    if (fromQuery.length > 0)
      throw new ValetError('bad_request', 'a valet key in both the URL and the header');
    const match = /^Bearer +(\S+)$/i.exec(authorization);
    if (!match?.[1])
      throw new ValetError('token_invalid', 'the Authorization header must be "Bearer <valet key>"');
    return match[1];
  }
  const [token] = fromQuery;
  if (token === undefined || token === '')
    throw new ValetError('token_missing', 'this request needs a valet key');
  return token;
}
