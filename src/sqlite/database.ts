import { createRequire } from 'node:module';

/** A prepared statement: the calls Valet makes, the same on both engines. */
export interface Statement<P extends unknown[] = unknown[], R = unknown> {
  /** Counts are numbers: neither engine is asked for BigInts, and no row id here nears 2^53. */
  run(...params: P): { changes: number; lastInsertRowid: number };
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

/** Which SQLite binding runs the database. */
export type SqliteEngine = 'node:sqlite' | 'better-sqlite3';

/**
 * One SQLite database file, on Node's built-in `node:sqlite` where the runtime has it (Node 22.13
 * and later: no native module to compile) and on `better-sqlite3` otherwise (Node 20). Both are
 * the same SQLite library underneath; the calls here behave alike on each, which the tests next
 * to this file check on the engine the running Node offers.
 */
export interface SqliteDatabase {
  readonly engine: SqliteEngine;
  /** Compiles one statement. */
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): Statement<P, R>;
  /** Runs SQL text, several statements allowed, no parameters. */
  exec(sql: string): void;
  /** Runs `PRAGMA <setting>` and returns its rows (`table_info(grants)`, `journal_mode = WAL`). */
  pragma(setting: string): unknown[];
  /**
   * Runs `fn` in a transaction, committed when it returns and rolled back when it throws; inside
   * an open transaction, in a savepoint, so a nested failure undoes only its own writes.
   */
  transaction<T>(fn: () => T): T;
  readonly inTransaction: boolean;
  readonly open: boolean;
  close(): void;
}

/** The part of `node:sqlite` used here (typed locally: the project builds with Node 20's types). */
interface NodeSqliteModule {
  DatabaseSync: new (
    file: string,
  ) => {
    prepare(sql: string): Statement;
    exec(sql: string): void;
    close(): void;
    readonly isOpen: boolean;
    readonly isTransaction: boolean;
  };
}

/** The part of `better-sqlite3` used here. */
type BetterSqlite3 = new (
  file: string,
) => {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(setting: string): unknown;
  transaction<T>(fn: () => T): () => T;
  close(): void;
  readonly open: boolean;
  readonly inTransaction: boolean;
};

const require = createRequire(import.meta.url);

/**
 * `node:sqlite`, if this Node has it without a flag. Node 22 prints an ExperimentalWarning when it
 * is loaded (24 and later do not); that one warning is left out, because the user did not choose
 * the module, Valet did, and the same SQLite underneath is stable. Every other warning passes.
 */
function loadNodeSqlite(): NodeSqliteModule | undefined {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (!getBuiltin) return undefined;
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (/^SQLite is an experimental feature/.test(text)) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    const module = getBuiltin('node:sqlite') as NodeSqliteModule | undefined;
    return module?.DatabaseSync ? module : undefined;
  } catch {
    return undefined; // Node 22.5 to 22.12 without --experimental-sqlite
  } finally {
    process.emitWarning = emitWarning;
  }
}

function loadBetterSqlite3(): BetterSqlite3 {
  try {
    return require('better-sqlite3') as BetterSqlite3;
  } catch (error) {
    throw new Error(
      `SQLite is not available: this Node.js (${process.version}) has no node:sqlite (Node 22.13 and ` +
        'later have it) and the better-sqlite3 module did not load. Run Valet on Node 22.13 or later, ' +
        'or install better-sqlite3 (npm install better-sqlite3) for this Node.',
      { cause: error },
    );
  }
}

/**
 * True when SQLite said its database or disk is full (SQLITE_FULL): better-sqlite3 names it in
 * `code`, node:sqlite gives the number in `errcode` (13; an extended code keeps it in its low byte).
 */
export function isDiskFull(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  return code === 'SQLITE_FULL' || (typeof errcode === 'number' && (errcode & 0xff) === 13);
}

let nodeSqlite: NodeSqliteModule | undefined | null = null;

/** The engine `openDatabase` uses on this Node when none is asked for. */
export function defaultEngine(): SqliteEngine {
  if (nodeSqlite === null) nodeSqlite = loadNodeSqlite();
  return nodeSqlite ? 'node:sqlite' : 'better-sqlite3';
}

/**
 * Opens (creating if needed) a database file, `:memory:` for a throw-away one.
 *
 * @example
 * ```ts
 * const db = openDatabase('.valet/ledger.sqlite')
 * db.pragma('journal_mode = WAL')
 * db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM t WHERE k = ?').get('a')
 * ```
 */
export function openDatabase(file: string, engine: SqliteEngine = defaultEngine()): SqliteDatabase {
  if (engine === 'node:sqlite') {
    if (nodeSqlite === null) nodeSqlite = loadNodeSqlite();
    if (!nodeSqlite) throw new Error(`node:sqlite is not available on Node.js ${process.version}`);
    return new NodeSqliteDatabase(new nodeSqlite.DatabaseSync(file));
  }
  return new BetterSqliteDatabase(new (loadBetterSqlite3())(file));
}

/** What both bindings do alike: statements, SQL text, closing. */
abstract class Database<D extends { prepare(sql: string): Statement; exec(sql: string): void; close(): void }>
  implements SqliteDatabase
{
  abstract readonly engine: SqliteEngine;
  protected readonly db: D;

  constructor(db: D) {
    this.db = db;
  }

  prepare<P extends unknown[], R>(sql: string): Statement<P, R> {
    return this.db.prepare(sql) as unknown as Statement<P, R>;
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  close(): void {
    this.db.close();
  }

  abstract pragma(setting: string): unknown[];
  abstract transaction<T>(fn: () => T): T;
  abstract get inTransaction(): boolean;
  abstract get open(): boolean;
}

class NodeSqliteDatabase extends Database<InstanceType<NodeSqliteModule['DatabaseSync']>> {
  readonly engine = 'node:sqlite';
  #savepoints = 0;

  pragma(setting: string): unknown[] {
    return this.db.prepare(`PRAGMA ${setting}`).all();
  }

  transaction<T>(fn: () => T): T {
    // As better-sqlite3's transaction(): BEGIN at the outside, a savepoint inside.
    const nested = this.db.isTransaction;
    const name = `valet_${++this.#savepoints}`;
    this.db.exec(nested ? `SAVEPOINT ${name}` : 'BEGIN');
    try {
      const result = fn();
      this.db.exec(nested ? `RELEASE ${name}` : 'COMMIT');
      return result;
    } catch (error) {
      if (this.db.isTransaction) {
        this.db.exec(nested ? `ROLLBACK TO ${name}; RELEASE ${name}` : 'ROLLBACK');
      }
      throw error;
    } finally {
      this.#savepoints--;
    }
  }

  get inTransaction(): boolean {
    return this.db.isTransaction;
  }

  get open(): boolean {
    return this.db.isOpen;
  }
}

class BetterSqliteDatabase extends Database<InstanceType<BetterSqlite3>> {
  readonly engine = 'better-sqlite3';

  pragma(setting: string): unknown[] {
    return this.db.pragma(setting) as unknown[];
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  get open(): boolean {
    return this.db.open;
  }
}
