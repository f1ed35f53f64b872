import { ValetError } from '../../token/errors.js';
import { migrations, quoteSchema, SCHEMA_VERSION } from './postgres-schema.js';

/** A query's result, as `pg` gives it. */
interface QueryResult {
  // biome-ignore lint/suspicious/noExplicitAny: each query casts its rows to the row type it selects
  rows: any[];
  rowCount: number | null;
}

/**
 * What a query runs on: the pool, or one client inside a transaction (`pg`'s, typed here so that
 * Valet's type declarations do not need `pg`'s).
 */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<QueryResult>;
}

/** `pg`'s pool, as far as the record store uses it. */
export interface Pool extends Queryable {
  /** A client of its own; `release(true)` drops it instead of returning it (a broken connection). */
  connect(): Promise<Queryable & { release(destroy?: boolean): void }>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** How to reach PostgreSQL: a `postgres://` URL, or options for `pg`'s `Pool`. */
export type PostgresConnection = string | { [option: string]: unknown };

// Replicas starting together migrate one at a time (a namespaced advisory lock per schema).
const MIGRATION_LOCK = "hashtextextended('valet:migrate:' || $1, 0)";

/** Loads the optional `pg` package, with a clear error when it is not installed. */
async function loadPg(): Promise<typeof import('pg')> {
  try {
    const mod = (await import('pg')) as typeof import('pg') & { default?: typeof import('pg') };
    return mod.default ?? mod;
  } catch (error) {
    throw new Error(
      "a postgres:// database needs the 'pg' package, an optional peer dependency of valet: npm install pg",
      { cause: error },
    );
  }
}

/** A pool of `max` connections that reads BIGINT columns (times, sizes) as numbers. */
export async function connectPool(connection: PostgresConnection, max: number): Promise<Pool> {
  const pg = await loadPg();
  const config = typeof connection === 'string' ? { connectionString: connection } : connection;
  const pool: Pool = new pg.Pool({
    max,
    ...config,
    // Every BIGINT here is a time in ms or a size in bytes: all stay below 2^53.
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === pg.types.builtins.INT8
          ? (v: string) => Number(v)
          : pg.types.getTypeParser(oid, format as 'text')) as never,
    },
  });
  // A connection the server drops (restart, failover) must not crash the app: the pool replaces
  // it, and the query that needed it fails with the error.
  pool.on('error', () => {});
  return pool;
}

/**
 * Brings the schema `schemaName` up to this version, each step in a transaction, under an
 * advisory lock: replicas starting together migrate one at a time, and the others find it done.
 * A schema made by a newer version is refused.
 */
export async function migrate(pool: Pool, schemaName: string): Promise<void> {
  const s = quoteSchema(schemaName);
  const client = await pool.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`, [schemaName]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (version INTEGER NOT NULL)`);
    const row = (await client.query(`SELECT max(version) AS v FROM ${s}.schema_version`)).rows[0];
    const current = (row?.v as number | null) ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `the records in schema ${schemaName} were made by a newer valet (schema ${current}, this one knows ${SCHEMA_VERSION})`,
      );
    }
    const steps = migrations(s);
    for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
      await client.query('BEGIN');
      try {
        await client.query(steps[v] as string);
        await client.query(`INSERT INTO ${s}.schema_version (version) VALUES ($1)`, [v]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`, [schemaName]).catch(() => {});
    client.release();
  }
}

/** SQLSTATE classes and socket codes that mean the database cannot be reached right now. */
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

function isOutage(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    // 08: connection exception; 57P01-57P03: the server shutting down or not accepting yet.
    if (OUTAGE_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)) return true;
  }
  // pg's own, without a code: a connection lost mid-query, or no connection in time.
  return (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect/i.test(message)
  );
}

/**
 * Text PostgreSQL cannot hold: 22021 (character_not_in_repertoire: a NUL in `text`), 22P05
 * (untranslatable_character: `\u0000` in `jsonb`), and `jsonb`'s refusal of an unpaired
 * surrogate escape. Input is checked for these where it enters (see token/text.ts); anything that
 * still reaches the database this way is the caller's input, answered 400 like SQLite does.
 */
function isUnstorableText(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return (
    code === '22021' ||
    code === '22P05' ||
    (code === '22P02' && typeof message === 'string' && /Unicode|surrogate/i.test(message))
  );
}

function outage<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((error: unknown) => {
    if (isUnstorableText(error)) {
      throw new ValetError(
        'bad_request',
        'the request holds text that cannot be stored (a NUL character or an unpaired surrogate)',
        {
          cause: error,
        },
      );
    }
    if (!isOutage(error)) throw error;
    throw new ValetError('unavailable', 'the record store does not answer; retry shortly', { cause: error });
  });
}

/**
 * The pool, with "the database cannot be reached" turned into `503 unavailable` (a client's
 * retry may well succeed once it is back), not a 500: the pool replaces lost connections itself;
 * and text it cannot hold into `400 bad_request`.
 */
export function outageAware(pool: Pool): Pool {
  return {
    query: (sql, params) => outage(pool.query(sql, params)),
    connect: async () => {
      const client = await outage(pool.connect());
      return {
        query: (sql, params) => outage(client.query(sql, params)),
        release: (destroy) => client.release(destroy),
      };
    },
    end: () => pool.end(),
    on: (event, listener) => pool.on(event, listener),
  };
}
