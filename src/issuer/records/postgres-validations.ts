import type { Queryable } from './postgres-connect.js';
import { toValidation, type ValidationRow } from './record-rows.js';
import type { ValidationBacklog, ValidationQueue, ValidationRecord } from './validations.js';

/** Version 4 of the PostgreSQL schema: the validation queue and the objects' pending mark. */
export const VALIDATIONS_SCHEMA_V4 = (s: string) => `
ALTER TABLE ${s}.objects ADD COLUMN validation TEXT;
CREATE TABLE ${s}.validations (
  id TEXT PRIMARY KEY,
  object TEXT NOT NULL,
  etag TEXT NOT NULL,
  owner TEXT NOT NULL,
  rule TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'rejecting', 'published', 'rejected', 'replaced')),
  reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at BIGINT NOT NULL,
  last_error TEXT,
  holder TEXT,
  lease_until BIGINT,
  created_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE INDEX validations_due ON ${s}.validations (due_at) WHERE status IN ('pending', 'rejecting');
CREATE INDEX validations_object ON ${s}.validations (object, status);`;

const OPEN = `status IN ('pending', 'rejecting')`;

/**
 * The PostgreSQL store's {@link ValidationQueue}: a claim takes the next due row with
 * `FOR UPDATE SKIP LOCKED`, so replicas claiming at once each get another (or none), never the same.
 */
export class PostgresValidations implements ValidationQueue {
  readonly #q: Queryable;
  readonly #s: string;
  readonly #tx: <T>(fn: (q: Queryable) => Promise<T>) => Promise<T>;

  constructor(q: Queryable, s: string, tx: <T>(fn: (q: Queryable) => Promise<T>) => Promise<T>) {
    this.#q = q;
    this.#s = s;
    this.#tx = tx;
  }

  async claim(holder: string, now: number, ttl: number): Promise<ValidationRecord | undefined> {
    const s = this.#s;
    const rows = (
      await this.#q.query(
        `UPDATE ${s}.validations SET holder = $1, lease_until = $2 WHERE id = (
           SELECT id FROM ${s}.validations
           WHERE ${OPEN} AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
           ORDER BY due_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [holder, now + ttl, now],
      )
    ).rows as ValidationRow[];
    return rows[0] && toValidation(rows[0]);
  }

  async renew(id: string, holder: string, until: number): Promise<boolean> {
    const result = await this.#q.query(
      `UPDATE ${this.#s}.validations SET lease_until = $1 WHERE id = $2 AND holder = $3 AND ${OPEN}`,
      [until, id, holder],
    );
    return result.rowCount === 1;
  }

  async retry(id: string, holder: string, dueAt: number, error: string): Promise<void> {
    await this.#q.query(
      `UPDATE ${this.#s}.validations SET attempts = attempts + 1, due_at = $1, last_error = $2,
         holder = NULL, lease_until = NULL WHERE id = $3 AND holder = $4 AND ${OPEN}`,
      [dueAt, error, id, holder],
    );
  }

  reject(id: string, holder: string, reason: string, _now: number): Promise<void> {
    const s = this.#s;
    return this.#tx(async (q) => {
      const row = (
        await q.query(
          `UPDATE ${s}.validations SET status = 'rejecting', reason = $1
           WHERE id = $2 AND holder = $3 AND status = 'pending' RETURNING object, etag`,
          [reason, id, holder],
        )
      ).rows[0] as { object: string; etag: string } | undefined;
      if (!row) return;
      await q.query(`DELETE FROM ${s}.objects WHERE key = $1 AND etag = $2 AND validation = 'pending'`, [
        row.object,
        row.etag,
      ]);
    });
  }

  finish(id: string, status: 'published' | 'rejected' | 'replaced', now: number): Promise<boolean> {
    const s = this.#s;
    return this.#tx(async (q) => {
      const row = (
        await q.query(
          `UPDATE ${s}.validations SET status = $1, finished_at = $2, holder = NULL, lease_until = NULL
           WHERE id = $3 AND ${OPEN} RETURNING object, etag`,
          [status, now, id],
        )
      ).rows[0] as { object: string; etag: string } | undefined;
      if (!row) return false;
      // A replaced version's row is already the newer version's: it stays as it is.
      if (status === 'published') {
        await q.query(`UPDATE ${s}.objects SET validation = NULL WHERE key = $1 AND etag = $2`, [
          row.object,
          row.etag,
        ]);
      } else if (status === 'rejected') {
        await q.query(`DELETE FROM ${s}.objects WHERE key = $1 AND etag = $2 AND validation = 'pending'`, [
          row.object,
          row.etag,
        ]);
      }
      return true;
    });
  }

  async get(id: string): Promise<ValidationRecord | undefined> {
    const rows = (await this.#q.query(`SELECT * FROM ${this.#s}.validations WHERE id = $1`, [id]))
      .rows as ValidationRow[];
    return rows[0] && toValidation(rows[0]);
  }

  async backlog(): Promise<ValidationBacklog> {
    const row = (
      await this.#q.query(
        `SELECT count(*) AS pending, min(created_at) AS oldest,
           count(*) FILTER (WHERE attempts > 0) AS retrying
         FROM ${this.#s}.validations WHERE ${OPEN}`,
      )
    ).rows[0] as { pending: string; oldest: string | null; retrying: string };
    return {
      pending: Number(row.pending),
      oldestCreatedAt: row.oldest === null ? undefined : Number(row.oldest),
      retrying: Number(row.retrying),
    };
  }
}
