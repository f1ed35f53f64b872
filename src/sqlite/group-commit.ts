import type { SqliteDatabase } from './database.js';

/**
 * Group commit on one SQLite database: a write runs at once, inside a transaction shared by every
 * write of the same event-loop turn (so checks that read and then write stay atomic), and
 * resolves when that transaction has committed. Under load one commit (one fsync with
 * `synchronous=FULL`) carries many writes instead of one each. A write that throws undoes only
 * itself (a savepoint inside the shared transaction); a commit that fails rejects every write it
 * carried.
 */
export class GroupCommit {
  readonly #db: SqliteDatabase;
  #batch: Promise<void> | undefined;

  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /** Runs `fn` in the turn's transaction; resolves with its result once that has committed. */
  write<T>(fn: () => T): Promise<T> {
    if (!this.#batch) {
      this.#db.exec('BEGIN IMMEDIATE');
      let settle!: (error?: unknown) => void;
      const done = new Promise<void>((resolve, reject) => {
        settle = (error) => (error === undefined ? resolve() : reject(error));
      });
      done.catch(() => {}); // each writer gets the failure through its own promise
      this.#batch = done;
      setImmediate(() => {
        this.#batch = undefined;
        try {
          this.#db.exec('COMMIT');
          settle();
        } catch (error) {
          if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
          settle(error);
        }
      });
    }
    const batch = this.#batch;
    let result: T;
    try {
      result = this.#db.transaction(fn);
    } catch (error) {
      return Promise.reject(error);
    }
    return batch.then(() => result);
  }

  /**
   * Waits until no group commit is open: the one open now, and any a write opens meanwhile (a
   * commit's failure is its writers'). Then a transaction of the caller's own can begin.
   */
  async flush(): Promise<void> {
    while (this.#batch) await this.#batch.catch(() => {});
  }
}
