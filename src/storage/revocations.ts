import type { Logger } from 'pino';
import type { ValetClaims } from '../token/claims.js';
import { ValetError } from '../token/errors.js';
import { RevocationIndex, revocationListSchema } from '../token/revocations.js';
import { signRequest } from '../token/signature.js';
import { Endpoints } from '../wire/endpoints.js';
import { failureReason, LinkHealth } from '../wire/link-health.js';

/** Where and how storage learns revocations. */
export interface RevocationFeedOptions {
  /**
   * The issuer's feed, e.g. `http://127.0.0.1:8080/v1/revocations`; or the same feed on each of
   * the issuer's replicas (they share their records), tried in turn until one answers.
   */
  url: string | string[];
  /** The secret shared with the issuer (signs each poll), at least 32 bytes. */
  secret: string;
  /** Poll interval, ms. Default 1 000. */
  interval?: number;
  /**
   * Fail closed: when no poll has succeeded for this long (ms), every key is refused with
   * `503 unavailable`, so a revocation is never honoured later than this. Default 5 000.
   */
  maxStaleness?: number;
}

/**
 * Storage's copy of the issuer's revocation list, kept by polling (pull, not push: storage needs
 * no inbound route from the issuer, and a restarted storage catches up with one request).
 *
 * Worst-case delay: a key revoked at the issuer is refused by storage at most one poll interval
 * plus one poll round trip later (about 1 s by default). If polls fail, storage keeps the last
 * list until `maxStaleness` (5 s by default) has passed since the last successful poll, and then
 * refuses every key until a poll succeeds again. So a revocation takes effect within
 * `maxStaleness` in every case.
 */
export class RevocationFeed {
  #index = new RevocationIndex();
  #etag: string | undefined;
  #lastSuccess = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #stopped = false;
  #started = false;
  readonly #options: Required<RevocationFeedOptions>;
  readonly #now: () => number;
  readonly #feeds: Endpoints;
  readonly #health: LinkHealth;

  constructor(options: RevocationFeedOptions, log: Logger, now: () => number) {
    this.#options = { interval: 1_000, maxStaleness: 5_000, ...options };
    this.#feeds = new Endpoints(options.url);
    this.#now = now;
    this.#health = new LinkHealth(
      log,
      `the issuer's revocation feed (every key is refused once the list is ${this.#options.maxStaleness} ms old)`,
    );
  }

  /** Starts polling: one poll now, then one every interval. A failed poll is logged and retried. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    void this.poll()
      .catch(() => {})
      .finally(() => this.#schedule());
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.poll()
        .catch(() => {})
        .finally(() => this.#schedule());
    }, this.#options.interval);
    this.#timer.unref();
  }

  /**
   * Fetches the list now (shared with a poll already in flight). A failure is logged once per
   * reason (see {@link LinkHealth}) and rejects.
   */
  poll(): Promise<void> {
    this.#polling ??= this.#fetch()
      .then(
        () => this.#health.succeeded(),
        async (error: unknown) => {
          const reason = error instanceof FeedRefused ? error.reason : await failureReason(error);
          this.#health.failed(reason, { replicas: this.#feeds.size });
          throw error;
        },
      )
      .finally(() => {
        this.#polling = undefined;
      });
    return this.#polling;
  }

  async #fetch(): Promise<void> {
    const started = this.#now();
    // Replicas share their records, so their lists and ETags agree: any that answers will do.
    await this.#feeds.first(async (url, path) => {
      const signature = await signRequest(this.#options.secret, { method: 'GET', path, body: '' }, started);
      const headers: Record<string, string> = { 'valet-signature': signature };
      if (this.#etag) headers['if-none-match'] = this.#etag;
      const response = await fetch(url, {
        headers,
        // Time for the next replica when one hangs, but never less than a second: a busy replica is
        // not a dead one.
        signal: AbortSignal.timeout(Math.max(1_000, this.#options.maxStaleness / 2 / this.#feeds.size)),
      });
      if (response.status === 304) return;
      if (!response.ok) throw new FeedRefused(await failureReason(response));
      const list = revocationListSchema.parse(await response.json());
      this.#index = new RevocationIndex(list);
      this.#etag = response.headers.get('etag') ?? undefined;
    });
    this.#lastSuccess = started;
  }

  /** Throws `token_revoked` for a revoked key, `unavailable` when the list is too stale to trust. */
  check(claims: ValetClaims, kid: string): void {
    if (this.#now() - this.#lastSuccess > this.#options.maxStaleness) {
      void this.poll().catch(() => {}); // try to recover now rather than at the next tick
      throw new ValetError(
        'unavailable',
        'storage cannot confirm that the key is not revoked; retry shortly',
      );
    }
    if (this.#index.reason(claims, kid)) throw new ValetError('token_revoked', 'the valet key was revoked');
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** The issuer answered the poll with a refusal. */
class FeedRefused extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`the revocation feed refused the poll: ${reason}`);
    this.reason = reason;
  }
}
