import path from 'node:path';
import { openDatabase, type SqliteDatabase, type Statement } from '../../sqlite/database.js';

/**
 * The persistent ledger of used single-use key ids. A row is kept until the key would have
 * expired (plus the clock skew), after which the key is refused as expired anyway, so the ledger
 * stays as small as the set of live single-use keys.
 *
 * SQLite in WAL mode with `synchronous=FULL`: a consumption is on disk before the request that
 * used the key is answered, so a replay is refused after a crash or restart too.
 */
export class UsedKeyLedger {
  readonly #db: SqliteDatabase;
  readonly #insert: Statement<[string, number]>;
  readonly #has: Statement<[string], { one: number }>;
  readonly #prune: Statement<[number]>;

  private constructor(db: SqliteDatabase) {
    this.#db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(`CREATE TABLE IF NOT EXISTS used_keys (
      jti TEXT PRIMARY KEY NOT NULL,
      exp INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS used_keys_exp ON used_keys (exp);`);
    this.#insert = db.prepare('INSERT INTO used_keys (jti, exp) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING');
    this.#has = db.prepare('SELECT 1 AS one FROM used_keys WHERE jti = ?');
    this.#prune = db.prepare('DELETE FROM used_keys WHERE exp < ?');
  }

  /** Opens (creating if needed) the ledger in a data directory. */
  static open(dir: string): UsedKeyLedger {
    return new UsedKeyLedger(openDatabase(path.join(dir, 'ledger.sqlite')));
  }

  /** Records a key id as used; false if it was already used. Durable when it returns. */
  consume(jti: string, exp: number): boolean {
    return this.#insert.run(jti, exp).changes === 1;
  }

  /** True if the key id was used. */
  has(jti: string): boolean {
    return this.#has.get(jti) !== undefined;
  }

  /** Forgets keys that expired before `beforeSeconds`; returns how many. */
  prune(beforeSeconds: number): number {
    return this.#prune.run(Math.floor(beforeSeconds)).changes;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
