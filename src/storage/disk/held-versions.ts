import path from 'node:path';
import { openDatabase, type SqliteDatabase, type Statement } from '../../sqlite/database.js';

/**
 * The versions storage holds unreadable until the issuer publishes them: uploads made with a key
 * that says `hold` (its rule validates content: a type check, a virus scan, the app's hook). One
 * row per object, naming the held version by the key id that made it; a reader of that version is
 * refused unless its key says `held` (the issuer's own validators), whatever else it allows.
 *
 * SQLite with `synchronous=FULL`, written before the version becomes visible: after a crash or a
 * restart, a held version is still held. The issuer's publish key ends a version's hold; a later
 * version, once visible, ends those of the versions it replaced (as does a deletion). The rows are
 * few (the uploads being validated now), and are kept in memory too, so a read asks a map, not the
 * database.
 */
export class HeldVersions {
  readonly #db: SqliteDatabase;
  readonly #held = new Map<string, Set<string>>();
  readonly #hold: Statement<[string, string]>;
  readonly #release: Statement<[string, string]>;

  private constructor(db: SqliteDatabase) {
    this.#db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(`CREATE TABLE IF NOT EXISTS held (
      object TEXT NOT NULL,
      key_id TEXT NOT NULL,
      PRIMARY KEY (object, key_id)
    ) WITHOUT ROWID;`);
    this.#hold = db.prepare('INSERT INTO held (object, key_id) VALUES (?, ?) ON CONFLICT DO NOTHING');
    this.#release = db.prepare('DELETE FROM held WHERE object = ? AND key_id = ?');
    const rows = db.prepare<[], { object: string; key_id: string }>('SELECT object, key_id FROM held').all();
    for (const row of rows) this.#remember(row.object, row.key_id);
  }

  /** Opens (creating if needed) the held versions of a data directory. */
  static open(dir: string): HeldVersions {
    return new HeldVersions(openDatabase(path.join(dir, 'held.sqlite')));
  }

  /** Holds the version `keyId` of `object` (before it becomes visible). Durable when it returns. */
  hold(object: string, keyId: string): void {
    this.#hold.run(object, keyId);
    this.#remember(object, keyId);
  }

  /** True if the version `keyId` of `object` is held. */
  isHeld(object: string, keyId: string): boolean {
    return this.#held.size > 0 && this.#held.get(object)?.has(keyId) === true;
  }

  /** Ends the hold of the version `keyId` of `object` (published); false if it was not held. */
  release(object: string, keyId: string): boolean {
    const versions = this.#held.get(object);
    if (!versions?.has(keyId)) return false;
    this.#release.run(object, keyId);
    versions.delete(keyId);
    if (versions.size === 0) this.#held.delete(object);
    return true;
  }

  /** Ends the holds of every version of `object` but `current` (replaced, or all: deleted). */
  releaseAllBut(object: string, current?: string): void {
    for (const keyId of [...(this.#held.get(object) ?? [])]) {
      if (keyId !== current) this.release(object, keyId);
    }
  }

  /** How many versions are held now. */
  get size(): number {
    let count = 0;
    for (const versions of this.#held.values()) count += versions.size;
    return count;
  }

  #remember(object: string, keyId: string): void {
    const versions = this.#held.get(object);
    if (versions) versions.add(keyId);
    else this.#held.set(object, new Set([keyId]));
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
