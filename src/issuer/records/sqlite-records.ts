import {
  openDatabase,
  type SqliteDatabase,
  type SqliteEngine,
  type Statement,
} from '../../sqlite/database.js';
import { GroupCommit } from '../../sqlite/group-commit.js';
import {
  type GrantRow,
  grantValues,
  type ObjectRow,
  type RevocationRow,
  type ShareRow,
  toEvent,
  toGrant,
  toObject,
  toRevocations,
  toShare,
} from './record-rows.js';
import {
  type EventOutcome,
  type EventRecord,
  exceeds,
  type GrantRecord,
  hasLimits,
  type ObjectPage,
  type ObjectRecord,
  type Quota,
  type RecordStore,
  type ReserveResult,
  type RevocationRecord,
  type ShareRecord,
  type Usage,
} from './records.js';
import { type EventSql, recordEventRows } from './sqlite-events.js';
import {
  LAPSED_UPLOADS,
  LIVE_SHARES,
  migrate,
  SCHEMA,
  UNFINISHED_UPLOADS,
  UPLOAD_KEYS_FOR,
  USAGE,
} from './sqlite-schema.js';
import { SqliteValidations, VALIDATIONS_SCHEMA } from './sqlite-validations.js';
import type { ValidationQueue } from './validations.js';

/** Options for {@link SqliteRecordStore.open}. */
export interface SqliteRecordStoreOptions {
  /**
   * Durability of grants, shares and revocations. `normal` (default): SQLite WAL with
   * `synchronous=NORMAL`: a commit survives a crash of the process, and a power loss may drop the
   * last moments of grants (short-lived keys). `full`: every commit is fsynced (each mint then
   * costs a disk flush: about 100 mints/s on a disk with slow flushes). Storage events are always
   * fsynced before they are acknowledged, whatever this says, so storage never drops one.
   */
  synchronous?: 'normal' | 'full';
  /**
   * The SQLite binding: `node:sqlite` (default where Node has it, 22.13 and later: nothing native)
   * or `better-sqlite3` (Node 20; installed as an optional dependency). Both run the same SQLite.
   */
  engine?: SqliteEngine;
}

/**
 * The default {@link RecordStore}: one SQLite file (WAL; `node:sqlite`, or better-sqlite3 on Node 20).
 * Every method runs synchronously inside one process, so check-and-write methods are atomic
 * transactions; the async signatures match stores that talk to a server.
 *
 * @example
 * ```ts
 * const records = SqliteRecordStore.open('.valet/issuer.sqlite')
 * const issuer = await createIssuer({ records, … })
 * ```
 */
export class SqliteRecordStore implements RecordStore {
  readonly #db: SqliteDatabase;

  readonly #synchronous: 'NORMAL' | 'FULL';
  readonly #commits: GroupCommit;

  private constructor(db: SqliteDatabase, options: SqliteRecordStoreOptions) {
    this.#db = db;
    this.#commits = new GroupCommit(db);
    this.#synchronous = options.synchronous === 'full' ? 'FULL' : 'NORMAL';
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${this.#synchronous}`);
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.exec(SCHEMA);
    migrate(db);
    db.exec(VALIDATIONS_SCHEMA);
    this.validations = new SqliteValidations({
      stmt: (sql) => this.#stmt(sql),
      write: (fn) => this.#write(fn),
    });
  }

  /** The validation queue (see `validations.ts`). */
  readonly validations: ValidationQueue;

  readonly #statements = new Map<string, Statement>();
  #lastSweep = Number.NEGATIVE_INFINITY;

  /** A prepared statement, compiled once per SQL text. */
  #stmt(sql: string): Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** What the event rows need of this store. */
  readonly #sql: EventSql = {
    stmt: (sql) => this.#stmt(sql),
    transaction: (fn) => this.#db.transaction(fn),
    usage: (subject, now) => this.#usage(subject, now),
  };

  /** Opens (creating if needed) a database file; `:memory:` for a throw-away one. */
  static open(file: string, options: SqliteRecordStoreOptions = {}): SqliteRecordStore {
    return new SqliteRecordStore(openDatabase(file, options.engine), options);
  }

  #insertGrant(g: GrantRecord): void {
    this.#stmt(
      `INSERT INTO grants (id, subject, op, object, rule, constraints, issued_at, expires_at, kid,
          client_address, user_agent, share_id, reserved_bytes, completed_at, reserved_until, description)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(...grantValues(g));
  }

  /**
   * A new object is pending until `until`; a pending one waits as long as its longest
   * reservation; a complete one stays as it is. One statement, no read first.
   */
  #reserveObject(grant: GrantRecord, now: number, until: number): void {
    this.#stmt(
      `INSERT INTO objects (key, owner, state, created_at, updated_at, pending_until)
         VALUES (?, ?, 'pending', ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET pending_until = max(pending_until, excluded.pending_until)
         WHERE state = 'pending'`,
    ).run(grant.object, grant.subject, now, now, until);
  }

  #usage(subject: string, now: number, except?: string): Usage {
    // Each object counts once, at the larger of its stored size and its largest live reservation:
    // an overwrite in flight replaces the old bytes, and a client's retries (each with a new key)
    // end up as one object.
    const row = this.#stmt(USAGE).get(subject, now, subject, except ?? null, now) as Usage;
    return { bytes: row.bytes, objects: row.objects }; // a plain object whatever the engine's rows
  }

  /** Group commit of this store's writes (see {@link GroupCommit}). */
  #write<T>(fn: () => T): Promise<T> {
    return this.#commits.write(fn);
  }

  /** Waits until no group commit is open. */
  #flush(): Promise<void> {
    return this.#commits.flush();
  }

  async recordGrant(grant: GrantRecord): Promise<void> {
    return this.#write(() => this.#insertGrant(grant));
  }

  async reserveUpload(grant: GrantRecord, quota: Quota, now: number): Promise<ReserveResult> {
    return this.#write((): ReserveResult => {
      // Lapsed pending rows are swept at most once a second (they never count once lapsed).
      if (now - this.#lastSweep >= 1000) {
        this.#expirePending(now);
        this.#lastSweep = now;
      }
      if (hasLimits(quota)) {
        // The object being reserved counts once, at this key's size: an overwrite replaces the
        // old version, and earlier keys for the same object (retries) are superseded.
        const usage = this.#usage(grant.subject, now, grant.object);
        if (exceeds(quota, usage, { bytes: grant.reservedBytes, objects: 1 })) return { ok: false, usage };
      }
      this.#insertGrant(grant);
      this.#reserveObject(grant, now, Math.max(grant.expiresAt, grant.reservedUntil ?? 0));
      return { ok: true };
    });
  }

  async renewUpload(grant: GrantRecord, upload: string, now: number): Promise<number> {
    return this.#write(() => {
      this.#insertGrant(grant);
      this.#reserveObject(grant, now, grant.expiresAt);
      const row = this.#stmt(
        `SELECT count(*) AS n FROM grants
           WHERE subject = ? AND object = ? AND json_extract(constraints, '$.upload') = ?`,
      ).get(grant.subject, grant.object, upload) as { n: number };
      return row.n;
    });
  }

  async lapsedUploads(after: { expiresAt: number; id: string }, upTo: number, limit: number) {
    const { expiresAt, id } = after;
    const rows = this.#stmt(LAPSED_UPLOADS).all(expiresAt, expiresAt, id, upTo, limit) as GrantRow[];
    return rows.map(toGrant);
  }

  async unfinishedUploads(after: { issuedAt: number; id: string }, upTo: number, limit: number) {
    const { issuedAt, id } = after;
    return (this.#stmt(UNFINISHED_UPLOADS).all(issuedAt, issuedAt, id, upTo, limit) as GrantRow[]).map(
      toGrant,
    );
  }

  async uploadKeysFor(object: string, from: number, to: number, limit: number): Promise<GrantRecord[]> {
    return (this.#stmt(UPLOAD_KEYS_FOR).all(object, to, from, limit) as GrantRow[]).map(toGrant);
  }

  async getGrant(id: string): Promise<GrantRecord | undefined> {
    const row = this.#stmt('SELECT * FROM grants WHERE id = ?').get(id) as GrantRow | undefined;
    return row && toGrant(row);
  }

  async usage(subject: string, now: number): Promise<Usage> {
    return this.#usage(subject, now);
  }

  async getObject(key: string): Promise<ObjectRecord | undefined> {
    const row = this.#stmt('SELECT * FROM objects WHERE key = ?').get(key) as ObjectRow | undefined;
    return row && toObject(row);
  }

  async listObjects(owner: string, page: ObjectPage = {}): Promise<ObjectRecord[]> {
    // Keys compare bytewise (SQLite's BINARY collation on UTF-8); the prefix by its characters.
    const rows = this.#stmt(
      `SELECT * FROM objects WHERE owner = ? AND state = 'complete' AND key > ?
       AND substr(key, 1, length(?)) = ? ORDER BY key LIMIT ?`,
    ).all(owner, page.after ?? '', page.prefix ?? '', page.prefix ?? '', page.limit ?? -1) as ObjectRow[];
    return rows.map(toObject);
  }

  #expirePending(now: number): number {
    return this.#stmt("DELETE FROM objects WHERE state = 'pending' AND pending_until < ?").run(now).changes;
  }

  async expirePending(now: number): Promise<number> {
    return this.#write(() => this.#expirePending(now));
  }

  async recordEvent(event: EventRecord): Promise<EventOutcome> {
    // Storage forgets an event once the issuer acknowledges it: the record is fsynced first, in a
    // transaction of its own (after any group commit in progress).
    await this.#flush();
    this.#db.pragma('synchronous = FULL');
    try {
      return recordEventRows(this.#sql, event);
    } finally {
      this.#db.pragma(`synchronous = ${this.#synchronous}`);
    }
  }

  async markEventHandled(id: string, now: number): Promise<void> {
    await this.#write(() => this.#stmt('UPDATE events SET handled_at = ? WHERE id = ?').run(now, id));
  }

  async dropObject(key: string, etag: string): Promise<void> {
    await this.#write(() => this.#stmt('DELETE FROM objects WHERE key = ? AND etag = ?').run(key, etag));
  }

  async listEvents(object?: string): Promise<EventRecord[]> {
    const rows = (
      object === undefined
        ? this.#stmt('SELECT * FROM events ORDER BY received_at, rowid').all()
        : this.#stmt('SELECT * FROM events WHERE object = ? ORDER BY received_at, rowid').all(object)
    ) as Array<Record<string, string | number>>;
    return rows.map(toEvent);
  }

  async createShare(share: ShareRecord): Promise<void> {
    await this.#write(() =>
      this.#stmt(
        `INSERT INTO shares (id, secret_hash, object, owner, created_at, expires_at, revoked_at, etag)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        share.id,
        share.secretHash,
        share.object,
        share.owner,
        share.createdAt,
        share.expiresAt,
        share.revokedAt,
        share.etag,
      ),
    );
  }

  async getShare(id: string): Promise<ShareRecord | undefined> {
    return this.#share('SELECT * FROM shares WHERE id = ?', id);
  }

  async findShareBySecret(secretHash: string): Promise<ShareRecord | undefined> {
    return this.#share('SELECT * FROM shares WHERE secret_hash = ?', secretHash);
  }

  #share(sql: string, value: string): ShareRecord | undefined {
    const row = this.#stmt(sql).get(value) as ShareRow | undefined;
    return row && toShare(row);
  }

  async listShares(owner: string, now: number): Promise<ShareRecord[]> {
    const rows = this.#stmt(LIVE_SHARES).all(owner, now) as ShareRow[];
    return rows.map(toShare);
  }

  async revokeShare(id: string, now: number): Promise<boolean> {
    return this.#write(
      () =>
        this.#stmt('UPDATE shares SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?').run(now, id)
          .changes === 1,
    );
  }

  async addRevocation(r: RevocationRecord): Promise<void> {
    await this.#write(() =>
      this.#stmt(
        'INSERT INTO revocations (kind, value, before, expires_at, created_at) VALUES (?, ?, ?, ?, ?)',
      ).run(r.kind, r.value, r.before, r.expiresAt, r.createdAt),
    );
  }

  async activeRevocations(now: number): Promise<{ version: string; revocations: RevocationRecord[] }> {
    const rows = this.#stmt('SELECT * FROM revocations WHERE expires_at > ? ORDER BY seq').all(
      now,
    ) as RevocationRow[];
    return toRevocations(rows);
  }

  async claimLease(name: string, holder: string, now: number, ttl: number): Promise<boolean> {
    return this.#write(
      () =>
        this.#stmt(
          `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE leases.holder = excluded.holder OR leases.until <= ?`,
        ).run(name, holder, now + ttl, now).changes === 1,
    );
  }

  async close(): Promise<void> {
    await this.#flush();
    if (this.#db.open) this.#db.close();
  }
}
