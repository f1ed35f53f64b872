import type { Statement } from '../../sqlite/database.js';
import { toValidation, type ValidationRow } from './record-rows.js';
import type { ValidationBacklog, ValidationQueue, ValidationRecord } from './validations.js';

/** What the validation queue needs of the SQLite store. */
export interface ValidationSql {
  stmt(sql: string): Statement;
  /** Runs `fn` in a write transaction (the store's group commit). */
  write<T>(fn: () => T): Promise<T>;
}

const DUE = `status IN ('pending', 'rejecting') AND due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)`;

/** The SQLite store's {@link ValidationQueue}: one process, so each method is one transaction. */
export class SqliteValidations implements ValidationQueue {
  readonly #sql: ValidationSql;

  constructor(sql: ValidationSql) {
    this.#sql = sql;
  }

  claim(holder: string, now: number, ttl: number): Promise<ValidationRecord | undefined> {
    return this.#sql.write(() => {
      const row = this.#sql
        .stmt(`SELECT * FROM validations WHERE ${DUE} ORDER BY due_at, created_at LIMIT 1`)
        .get(now, now) as ValidationRow | undefined;
      if (!row) return undefined;
      this.#sql
        .stmt('UPDATE validations SET holder = ?, lease_until = ? WHERE id = ?')
        .run(holder, now + ttl, row.id);
      return toValidation(row);
    });
  }

  renew(id: string, holder: string, until: number): Promise<boolean> {
    return this.#sql.write(
      () =>
        this.#sql
          .stmt(
            `UPDATE validations SET lease_until = ? WHERE id = ? AND holder = ?
             AND status IN ('pending', 'rejecting')`,
          )
          .run(until, id, holder).changes === 1,
    );
  }

  retry(id: string, holder: string, dueAt: number, error: string): Promise<void> {
    return this.#sql.write(() => {
      this.#sql
        .stmt(
          `UPDATE validations SET attempts = attempts + 1, due_at = ?, last_error = ?, holder = NULL,
             lease_until = NULL WHERE id = ? AND holder = ? AND status IN ('pending', 'rejecting')`,
        )
        .run(dueAt, error, id, holder);
    });
  }

  reject(id: string, holder: string, reason: string, _now: number): Promise<void> {
    return this.#sql.write(() => {
      const row = this.#sql
        .stmt(`SELECT object, etag FROM validations WHERE id = ? AND holder = ? AND status = 'pending'`)
        .get(id, holder) as { object: string; etag: string } | undefined;
      if (!row) return;
      this.#sql.stmt(`UPDATE validations SET status = 'rejecting', reason = ? WHERE id = ?`).run(reason, id);
      this.#sql
        .stmt(`DELETE FROM objects WHERE key = ? AND etag = ? AND validation = 'pending'`)
        .run(row.object, row.etag);
    });
  }

  finish(id: string, status: 'published' | 'rejected' | 'replaced', now: number): Promise<boolean> {
    return this.#sql.write(() => {
      const row = this.#sql
        .stmt(`SELECT object, etag FROM validations WHERE id = ? AND status IN ('pending', 'rejecting')`)
        .get(id) as { object: string; etag: string } | undefined;
      if (!row) return false;
      this.#sql
        .stmt(
          `UPDATE validations SET status = ?, finished_at = ?, holder = NULL, lease_until = NULL
           WHERE id = ?`,
        )
        .run(status, now, id);
      // A replaced version's row is already the newer version's: it stays as it is.
      if (status === 'published') {
        this.#sql
          .stmt(`UPDATE objects SET validation = NULL WHERE key = ? AND etag = ?`)
          .run(row.object, row.etag);
      } else if (status === 'rejected') {
        this.#sql
          .stmt(`DELETE FROM objects WHERE key = ? AND etag = ? AND validation = 'pending'`)
          .run(row.object, row.etag);
      }
      return true;
    });
  }

  async get(id: string): Promise<ValidationRecord | undefined> {
    const row = this.#sql.stmt('SELECT * FROM validations WHERE id = ?').get(id) as ValidationRow | undefined;
    return row && toValidation(row);
  }

  async backlog(): Promise<ValidationBacklog> {
    const row = this.#sql
      .stmt(
        `SELECT count(*) AS pending, min(created_at) AS oldest, sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END)
           AS retrying FROM validations WHERE status IN ('pending', 'rejecting')`,
      )
      .get() as { pending: number; oldest: number | null; retrying: number | null };
    return {
      pending: Number(row.pending),
      oldestCreatedAt: row.oldest === null ? undefined : Number(row.oldest),
      retrying: Number(row.retrying ?? 0),
    };
  }
}

/** The validation queue's table and the objects' pending mark (created if missing). */
export const VALIDATIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS validations (
  id TEXT PRIMARY KEY NOT NULL,
  object TEXT NOT NULL,
  etag TEXT NOT NULL,
  owner TEXT NOT NULL,
  rule TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'rejecting', 'published', 'rejected', 'replaced')),
  reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER NOT NULL,
  last_error TEXT,
  holder TEXT,
  lease_until INTEGER,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS validations_due ON validations (due_at) WHERE status IN ('pending', 'rejecting');
CREATE INDEX IF NOT EXISTS validations_object ON validations (object, status);
`;
