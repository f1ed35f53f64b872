import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ValetClaims } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { RevocationIndex, type RevocationList, revocationListSchema } from '../../token/revocations.js';
import { signRequest } from '../../token/signature.js';
import { formatDuration } from '../../token/units.js';
import { Endpoints } from '../../wire/endpoints.js';
import { failureReason, LinkHealth } from '../../wire/link-health.js';
import { writeDurably } from '../disk/durable-file.js';

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
   * Fail closed: when no poll has succeeded for this long (ms), a key that carries no bound of its
   * own (`rev`) is refused with `503 unavailable`, so its revocation is never honoured later than
   * this. Default 5 000.
   */
  maxStaleness?: number;
  /**
   * Where the last list is kept (with when the issuer last confirmed it), so that a storage
   * restarted while the issuer is unreachable still refuses what was revoked. Default none.
   */
  file?: string;
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
  #list: RevocationList = { keys: [], subjects: [], signing_keys: [] };
  #saved = Number.NEGATIVE_INFINITY;
  /** Why the last poll failed, while polls fail; `refused`: the issuer answered, with a refusal. */
  #failure: { reason: string; refused: boolean; status?: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #stopped = false;
  #started = false;
  readonly #options: Required<RevocationFeedOptions>;
  readonly #now: () => number;
  readonly #feeds: Endpoints;
  readonly #health: LinkHealth;

  readonly #log: Logger;

  constructor(options: RevocationFeedOptions, log: Logger, now: () => number) {
    this.#log = log;
    this.#options = { interval: 1_000, maxStaleness: 5_000, file: '', ...options };
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
        () => {
          this.#failure = undefined;
          this.#health.succeeded();
        },
        async (error: unknown) => {
          const refused = error instanceof FeedRefused;
          const reason = refused ? error.reason : await failureReason(error);
          this.#failure = { reason, refused, ...(refused && { status: error.status }) };
          this.#health.failed(refused && error.status === 401 ? `${reason} (${SECRET_MISMATCH})` : reason, {
            replicas: this.#feeds.size,
          });
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
      if (!response.ok) throw new FeedRefused(response.status, await failureReason(response));
      const list = revocationListSchema.parse(await response.json());
      this.#list = list;
      this.#index = new RevocationIndex(list);
      this.#etag = response.headers.get('etag') ?? undefined;
      this.#saved = Number.NEGATIVE_INFINITY; // a new list is kept at once
    });
    this.#lastSuccess = started;
    if (started - this.#saved >= SAVE_EVERY_MS) await this.#save(started);
  }

  /**
   * Takes back the list kept by an earlier run, and when the issuer last confirmed it: a storage
   * restarted while the issuer is unreachable refuses what was revoked, and judges the list's age
   * from that confirmation. Nothing kept (a first start): no list, as before.
   */
  async restore(): Promise<void> {
    if (!this.#options.file) return;
    let kept: Kept;
    try {
      kept = keptSchema.parse(JSON.parse(await readFile(this.#options.file, 'utf8')));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      // A damaged file is no list: fail closed, as on a first start.
      this.#health.failed(`the kept revocation list ${this.#options.file} cannot be read`, {});
      return;
    }
    this.#list = kept.list;
    this.#index = new RevocationIndex(kept.list);
    this.#etag = kept.etag;
    this.#lastSuccess = kept.confirmedAt;
    this.#saved = kept.confirmedAt;
  }

  /**
   * Keeps the list and its confirmation time on disk (a new list at once, a confirmation at most
   * every {@link SAVE_EVERY_MS}: a restart judges the list a little older than it is, never
   * younger). Written to a temporary file, fsynced, renamed. A failure is logged, never fatal:
   * the list in memory still holds.
   */
  async #save(confirmedAt: number): Promise<void> {
    const file = this.#options.file;
    if (!file) return;
    this.#saved = confirmedAt;
    const kept: Kept = {
      confirmedAt,
      ...(this.#etag !== undefined && { etag: this.#etag }),
      list: this.#list,
    };
    try {
      await writeDurably(file, `${JSON.stringify(kept)}\n`);
    } catch (error) {
      this.#log.warn({ err: error, file }, 'could not keep the revocation list on disk');
    }
  }

  /**
   * Throws `token_revoked` for a revoked key, `unavailable` when the list is older than the key
   * allows. A key's bound is its `rev` claim (set by the issuer's rule, signed), else storage's
   * `maxStaleness`; a key that lives no longer than its bound needs no fresh list at all (its
   * revocation cannot be late by more than the bound: the key has expired by then).
   */
  check(claims: ValetClaims, kid: string): void {
    const bound = claims.rev !== undefined ? claims.rev * 1000 : this.#options.maxStaleness;
    const lifetime = (claims.exp - claims.nbf) * 1000;
    if (lifetime > bound && this.#now() - this.#lastSuccess > bound) {
      void this.poll().catch(() => {}); // try to recover now rather than at the next tick
      // The issuer refuses storage's signature: retrying will not help, an operator must.
      if (this.#failure?.status === 401)
        throw new ValetError('misconfigured', `storage is misconfigured: ${SECRET_MISMATCH}`);
      throw new ValetError(
        'unavailable',
        `storage cannot confirm that the key is not revoked: its revocation list is older than the ${formatDuration(bound / 1000)} the key allows; retry shortly`,
      );
    }
    if (this.#index.reason(claims, kid)) throw new ValetError('token_revoked', 'the valet key was revoked');
  }

  /** Milliseconds since the issuer last confirmed the list (Infinity if it never has). */
  get age(): number {
    return this.#now() - this.#lastSuccess;
  }

  /** Storage's own bound, for keys without one, ms. */
  get maxStaleness(): number {
    return this.#options.maxStaleness;
  }

  /**
   * Why the last poll failed while polls fail (undefined when the last one worked): the reason,
   * whether the issuer answered with a refusal, and its status (401: the secrets differ).
   */
  get failure(): { reason: string; refused: boolean; status?: number } | undefined {
    return this.#failure;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** How often a confirmation of an unchanged list is written to disk, ms. */
const SAVE_EVERY_MS = 30_000;

/** The revocation list as kept on disk. */
const keptSchema = z.object({
  confirmedAt: z.number(),
  etag: z.string().optional(),
  list: revocationListSchema,
});
type Kept = z.infer<typeof keptSchema>;

/** What a 401 from the issuer means: the one thing an operator must fix. */
export const SECRET_MISMATCH =
  "the issuer refuses storage's signature: the secret in storage's --secret-file and the issuer's storageSecret differ";

/** The issuer answered the poll with a refusal. */
class FeedRefused extends Error {
  readonly status: number;
  readonly reason: string;

  constructor(status: number, reason: string) {
    super(`the revocation feed refused the poll: ${reason}`);
    this.status = status;
    this.reason = reason;
  }
}
