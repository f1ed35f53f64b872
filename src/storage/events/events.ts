import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { openDatabase, type SqliteDatabase, type Statement } from '../../sqlite/database.js';
import { signRequest } from '../../token/signature.js';
import { Endpoints } from '../../wire/endpoints.js';
import type { Receipt, StorageEvent } from '../../wire/events.js';
import { failureReason, LinkHealth } from '../../wire/link-health.js';

/** Where storage reports committed uploads and deletions. */
export interface EventWebhookOptions {
  /**
   * The issuer's endpoint, e.g. `http://127.0.0.1:8080/v1/events`; or the same endpoint on each of
   * the issuer's replicas, tried in turn until one accepts (they record an event once by its id).
   */
  url: string | string[];
  /** The secret shared with the issuer, at least 32 bytes. */
  secret: string;
  /** First retry delay, ms; doubles up to `maxRetryDelay`. Default 250. */
  retryDelay?: number;
  /** Longest retry delay, ms. Default 30 000. */
  maxRetryDelay?: number;
  /** Time allowed for one delivery, ms. Default 10 000. */
  timeout?: number;
}

/** The storage event, declared once for storage and issuer. */
export type { StorageEvent } from '../../wire/events.js';

interface Row {
  seq: number;
  body: string;
  state: 'prepared' | 'ready';
  type: StorageEvent['type'];
  object: string;
  key_id: string;
}

/**
 * A durable outbox of storage events, delivered to the issuer at least once, in commit order.
 *
 * An event is written (`prepared`, fsynced) before its change becomes visible and marked `ready`
 * right after, so a crash between the two cannot lose it: at start-up a `prepared` event is
 * checked against the data directory (did that upload's version land? is that deleted version
 * gone?) and either delivered or dropped. Delivery retries with exponential backoff until the
 * issuer answers 2xx; the issuer de-duplicates by event id.
 */
export class EventOutbox {
  readonly #db: SqliteDatabase;
  readonly #options: Required<EventWebhookOptions>;
  readonly #endpoints: Endpoints;
  readonly #health: LinkHealth;
  readonly #insert: Statement<[string, string, string, string]>;
  readonly #ready: Statement<[number]>;
  readonly #delete: Statement<[number]>;
  readonly #next: Statement<[], Row>;
  #wake: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #delay: number;
  readonly #abort = new AbortController();

  private constructor(db: SqliteDatabase, options: EventWebhookOptions, log: Logger) {
    this.#db = db;
    this.#options = { retryDelay: 250, maxRetryDelay: 30_000, timeout: 10_000, ...options };
    this.#delay = this.#options.retryDelay;
    this.#endpoints = new Endpoints(options.url);
    this.#health = new LinkHealth(
      log,
      'delivering storage events to the issuer (they wait in the outbox and are retried)',
    );
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(`CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      body TEXT NOT NULL,
      state TEXT NOT NULL,
      type TEXT NOT NULL,
      object TEXT NOT NULL,
      key_id TEXT NOT NULL
    )`);
    this.#insert = db.prepare(
      "INSERT INTO outbox (body, state, type, object, key_id) VALUES (?, 'prepared', ?, ?, ?)",
    );
    this.#ready = db.prepare("UPDATE outbox SET state = 'ready' WHERE seq = ?");
    this.#delete = db.prepare('DELETE FROM outbox WHERE seq = ?');
    this.#next = db.prepare("SELECT * FROM outbox WHERE state = 'ready' ORDER BY seq LIMIT 1");
  }

  /** Opens the outbox in a data directory. */
  static open(dir: string, options: EventWebhookOptions, log: Logger): EventOutbox {
    return new EventOutbox(openDatabase(path.join(dir, 'outbox.sqlite')), options, log);
  }

  /**
   * Settles events a crash left `prepared`: `landed(type, object, keyId)` says whether the change
   * is visible in the store (an upload's version is there; a deleted version is gone).
   */
  async recover(
    landed: (row: { type: StorageEvent['type']; object: string; key_id: string }) => Promise<boolean>,
  ) {
    const rows = this.#db
      .prepare("SELECT * FROM outbox WHERE state = 'prepared' ORDER BY seq")
      .all() as Row[];
    for (const row of rows) {
      if (await landed(row)) this.#ready.run(row.seq);
      else this.#delete.run(row.seq);
    }
  }

  /** Records an event durably before its change is made visible; returns a handle and its body. */
  prepare(event: Omit<StorageEvent, 'id' | 'time'>, now: number): { seq: number; body: string } {
    const full: StorageEvent = { id: `evt_${randomUUID()}`, time: new Date(now).toISOString(), ...event };
    const key = event.type === 'object.deleted' ? (event.version_key_id ?? '') : event.key_id;
    const body = JSON.stringify(full);
    return { seq: Number(this.#insert.run(body, event.type, event.object, key).lastInsertRowid), body };
  }

  /** An event's body signed as its delivery is, for the client to hand to the issuer. */
  async receipt(body: string, now: number): Promise<Receipt> {
    const signature = await signRequest(
      this.#options.secret,
      { method: 'POST', path: this.#endpoints.path, body },
      now,
    );
    return { event: body, signature };
  }

  /** The change is visible: deliver the event. */
  publish(seq: number): void {
    this.#ready.run(seq);
    this.#wake?.();
  }

  /** The change did not happen: forget the event. */
  cancel(seq: number): void {
    this.#delete.run(seq);
  }

  /** Starts delivering in the background. */
  start(): void {
    this.#running ??= this.#deliverLoop();
  }

  async #deliverLoop(): Promise<void> {
    while (!this.#stopped) {
      const row = this.#next.get();
      if (!row) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = undefined;
        continue;
      }
      if (await this.#send(row)) {
        this.#delete.run(row.seq);
        this.#delay = this.#options.retryDelay;
      } else {
        // close() may have run while this delivery was in flight: nobody would wake the wait.
        if (this.#stopped) break;
        const wait = this.#delay * (0.5 + Math.random() / 2);
        this.#delay = Math.min(this.#delay * 2, this.#options.maxRetryDelay);
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, wait).unref();
        });
        this.#wake = undefined;
      }
    }
  }

  async #send(row: Row): Promise<boolean> {
    try {
      await this.#endpoints.first(async (url, path) => {
        const signature = await signRequest(this.#options.secret, { method: 'POST', path, body: row.body });
        const response = await fetch(url, {
          method: 'POST',
          body: row.body,
          headers: { 'content-type': 'application/json', 'valet-signature': signature },
          signal: AbortSignal.any([AbortSignal.timeout(this.#options.timeout), this.#abort.signal]),
        });
        if (!response.ok) throw new Refused(await failureReason(response));
        await response.body?.cancel();
      });
      this.#health.succeeded();
      return true;
    } catch (error) {
      const reason = error instanceof Refused ? error.reason : await failureReason(error);
      this.#health.failed(reason, { seq: row.seq, pending: this.pending });
      return false;
    }
  }

  /** Events not yet acknowledged by the issuer. */
  get pending(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  }

  /** Stops delivering (undelivered events stay for the next start) and closes the database. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#wake?.();
    await this.#running;
    if (this.#db.open) this.#db.close();
  }
}

/** The issuer answered a delivery with a refusal. */
class Refused extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`the issuer refused the event: ${reason}`);
    this.reason = reason;
  }
}
