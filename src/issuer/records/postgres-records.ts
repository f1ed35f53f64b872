import {
  connectPool,
  migrate,
  outageAware,
  type Pool,
  type PostgresConnection,
  type Queryable,
} from './postgres-connect.js';
import { recordEventTx } from './postgres-events.js';
import {
  GRANT_COLUMNS,
  insertGrantSql,
  lapsedSql,
  liveSharesSql,
  pendingObjectSql,
  quoteSchema,
  reserveWithoutQuotaSql,
  unfinishedSql,
  uploadKeysForSql,
  usageSql,
} from './postgres-schema.js';
import { PostgresValidations } from './postgres-validations.js';
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
import type { ValidationQueue } from './validations.js';

/** Options for {@link PostgresRecordStore.open}. */
export interface PostgresRecordStoreOptions {
  /** The schema Valet's tables live in (created if missing). Default `valet`. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  maxConnections?: number;
}

// One advisory lock per subject (namespaced): its quota checks and writes, on any replica, in turn.
const SUBJECT_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('valet:subject:' || $1, 0))";

/**
 * A {@link RecordStore} in PostgreSQL, for several issuers (replicas on several machines, or
 * serverless instances) sharing one truth. Check-and-write operations are transactions that hold
 * a per-subject advisory lock, so replicas minting at once never grant past a quota; a storage
 * event is recorded once by its id whichever replica receives it; commits are durable
 * (PostgreSQL's `synchronous_commit`) before any answer. The schema migrates on open, under an
 * advisory lock, so replicas may start together.
 *
 * @example
 * ```ts
 * const issuer = await createIssuer({ database: 'postgres://valet@db.internal/app', … })
 * // or: records: await PostgresRecordStore.open('postgres://…', { schema: 'valet' })
 * ```
 */
export class PostgresRecordStore implements RecordStore {
  readonly #pool: Pool;
  readonly #s: string;
  #lastSweep = Number.NEGATIVE_INFINITY;
  #closed: Promise<void> | undefined;

  private constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.#s = schema;
    this.validations = new PostgresValidations(pool, schema, (fn) => this.#tx(fn));
  }

  /** The validation queue (see `validations.ts`). */
  readonly validations: ValidationQueue;

  /** Connects (a URL or a `pg` pool configuration) and brings the schema up to date. */
  static async open(
    connection: PostgresConnection,
    options: PostgresRecordStoreOptions = {},
  ): Promise<PostgresRecordStore> {
    const schema = options.schema ?? 'valet';
    const s = quoteSchema(schema);
    const pool = await connectPool(connection, options.maxConnections ?? 10);
    try {
      await migrate(pool, schema);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresRecordStore(outageAware(pool), s);
  }

  /** Runs `fn` in a transaction on one connection; rolls back if it throws. */
  async #tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot roll back is not given back to the pool.
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async #usage(q: Queryable, subject: string, now: number, except?: string): Promise<Usage> {
    const row = (await q.query(usageSql(this.#s), [subject, now, except ?? null])).rows[0];
    return { bytes: Number(row.bytes), objects: Number(row.objects) };
  }

  async recordGrant(grant: GrantRecord): Promise<void> {
    await this.#pool.query(insertGrantSql(this.#s), grantValues(grant));
  }

  async reserveUpload(grant: GrantRecord, quota: Quota, now: number): Promise<ReserveResult> {
    // Lapsed pending rows are swept at most once a second per replica (once lapsed, they never count).
    if (now - this.#lastSweep >= 1000) {
      this.#lastSweep = now;
      await this.expirePending(now);
    }
    const reservedUntil = Math.max(grant.expiresAt, grant.reservedUntil ?? 0);
    if (!hasLimits(quota)) {
      // Nothing to check, so nothing to serialize: one statement, one commit.
      await this.#pool.query(reserveWithoutQuotaSql(this.#s), [...grantValues(grant), now, reservedUntil]);
      return { ok: true };
    }
    return this.#tx(async (q): Promise<ReserveResult> => {
      // One reservation per subject at a time, across every replica: no check-then-insert race.
      await q.query(SUBJECT_LOCK, [grant.subject]);
      // The object being reserved counts once, at this key's size (see the SQLite store).
      const usage = await this.#usage(q, grant.subject, now, grant.object);
      if (exceeds(quota, usage, { bytes: grant.reservedBytes, objects: 1 })) return { ok: false, usage };
      await q.query(insertGrantSql(this.#s), grantValues(grant));
      await q.query(pendingObjectSql(this.#s), [grant.object, grant.subject, now, reservedUntil]);
      return { ok: true };
    });
  }

  async renewUpload(grant: GrantRecord, upload: string, now: number): Promise<number> {
    return this.#tx(async (q) => {
      await q.query(SUBJECT_LOCK, [grant.subject]);
      await q.query(insertGrantSql(this.#s), grantValues(grant));
      await q.query(pendingObjectSql(this.#s), [grant.object, grant.subject, now, grant.expiresAt]);
      const row = (
        await q.query(
          `SELECT count(*)::bigint AS n FROM ${this.#s}.grants
             WHERE subject = $1 AND object = $2 AND constraints->>'upload' = $3`,
          [grant.subject, grant.object, upload],
        )
      ).rows[0];
      return Number(row.n);
    });
  }

  async lapsedUploads(after: { expiresAt: number; id: string }, upTo: number, limit: number) {
    const rows = (await this.#pool.query(lapsedSql(this.#s), [after.expiresAt, after.id, upTo, limit]))
      .rows as GrantRow[];
    return rows.map(toGrant);
  }

  async unfinishedUploads(after: { issuedAt: number; id: string }, upTo: number, limit: number) {
    const rows = (await this.#pool.query(unfinishedSql(this.#s), [after.issuedAt, after.id, upTo, limit]))
      .rows as GrantRow[];
    return rows.map(toGrant);
  }

  async uploadKeysFor(object: string, from: number, to: number, limit: number): Promise<GrantRecord[]> {
    const rows = (await this.#pool.query(uploadKeysForSql(this.#s), [object, to, from, limit]))
      .rows as GrantRow[];
    return rows.map(toGrant);
  }

  async getGrant(id: string): Promise<GrantRecord | undefined> {
    const rows = (
      await this.#pool.query(`SELECT ${GRANT_COLUMNS} FROM ${this.#s}.grants WHERE id = $1`, [id])
    ).rows as GrantRow[];
    return rows[0] && toGrant(rows[0]);
  }

  usage(subject: string, now: number): Promise<Usage> {
    return this.#usage(this.#pool, subject, now);
  }

  async getObject(key: string): Promise<ObjectRecord | undefined> {
    const rows = (await this.#pool.query(`SELECT * FROM ${this.#s}.objects WHERE key = $1`, [key]))
      .rows as ObjectRow[];
    return rows[0] && toObject(rows[0]);
  }

  async listObjects(owner: string, page: ObjectPage = {}): Promise<ObjectRecord[]> {
    const rows = (
      await this.#pool.query(
        `SELECT * FROM ${this.#s}.objects WHERE owner = $1 AND state = 'complete'
         AND key COLLATE "C" > $2 AND left(key, length($3)) = $3
         ORDER BY key COLLATE "C" LIMIT $4`,
        [owner, page.after ?? '', page.prefix ?? '', page.limit ?? null],
      )
    ).rows as ObjectRow[];
    return rows.map(toObject);
  }

  async expirePending(now: number): Promise<number> {
    const result = await this.#pool.query(
      `DELETE FROM ${this.#s}.objects WHERE state = 'pending' AND pending_until < $1`,
      [now],
    );
    return result.rowCount ?? 0;
  }

  recordEvent(event: EventRecord): Promise<EventOutcome> {
    return this.#tx((q) =>
      recordEventTx(
        q,
        this.#s,
        event,
        (subject) => q.query(SUBJECT_LOCK, [subject]),
        (subject, now) => this.#usage(q, subject, now),
      ),
    );
  }

  async markEventHandled(id: string, now: number): Promise<void> {
    await this.#pool.query(`UPDATE ${this.#s}.events SET handled_at = $1 WHERE id = $2`, [now, id]);
  }

  async dropObject(key: string, etag: string): Promise<void> {
    await this.#pool.query(`DELETE FROM ${this.#s}.objects WHERE key = $1 AND etag = $2`, [key, etag]);
  }

  async listEvents(object?: string): Promise<EventRecord[]> {
    const rows = (
      object === undefined
        ? await this.#pool.query(`SELECT * FROM ${this.#s}.events ORDER BY received_at, seq`)
        : await this.#pool.query(
            `SELECT * FROM ${this.#s}.events WHERE object = $1 ORDER BY received_at, seq`,
            [object],
          )
    ).rows as Array<Record<string, string | number>>;
    return rows.map(toEvent);
  }

  async createShare(share: ShareRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#s}.shares (id, secret_hash, object, owner, created_at, expires_at, revoked_at, etag)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        share.id,
        share.secretHash,
        share.object,
        share.owner,
        share.createdAt,
        share.expiresAt,
        share.revokedAt,
        share.etag,
      ],
    );
  }

  getShare(id: string): Promise<ShareRecord | undefined> {
    return this.#share('id', id);
  }

  findShareBySecret(secretHash: string): Promise<ShareRecord | undefined> {
    return this.#share('secret_hash', secretHash);
  }

  async #share(column: 'id' | 'secret_hash', value: string): Promise<ShareRecord | undefined> {
    const rows = (await this.#pool.query(`SELECT * FROM ${this.#s}.shares WHERE ${column} = $1`, [value]))
      .rows as ShareRow[];
    return rows[0] && toShare(rows[0]);
  }

  async listShares(owner: string, now: number): Promise<ShareRecord[]> {
    const rows = (await this.#pool.query(liveSharesSql(this.#s), [owner, now])).rows as ShareRow[];
    return rows.map(toShare);
  }

  async revokeShare(id: string, now: number): Promise<boolean> {
    const result = await this.#pool.query(
      `UPDATE ${this.#s}.shares SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`,
      [now, id],
    );
    return result.rowCount === 1;
  }

  async addRevocation(r: RevocationRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#s}.revocations (kind, value, before, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
      [r.kind, r.value, r.before, r.expiresAt, r.createdAt],
    );
  }

  async activeRevocations(now: number): Promise<{ version: string; revocations: RevocationRecord[] }> {
    const rows = (
      await this.#pool.query(`SELECT * FROM ${this.#s}.revocations WHERE expires_at > $1 ORDER BY seq`, [now])
    ).rows as RevocationRow[];
    return toRevocations(rows);
  }

  async claimLease(name: string, holder: string, now: number, ttl: number): Promise<boolean> {
    const result = await this.#pool.query(
      `INSERT INTO ${this.#s}.leases (name, holder, until) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
         WHERE ${this.#s}.leases.holder = EXCLUDED.holder OR ${this.#s}.leases.until <= $4`,
      [name, holder, now + ttl, now],
    );
    return result.rowCount === 1;
  }

  /** Ends the pool once; closing again does nothing. */
  close(): Promise<void> {
    this.#closed ??= this.#pool.end();
    return this.#closed;
  }
}
