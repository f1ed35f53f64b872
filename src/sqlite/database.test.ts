// The SQLite wrapper on the engine this Node offers (node:sqlite from 22.13, better-sqlite3 on 20),
// and on better-sqlite3 too where it loads: the calls Valet makes behave the same on each.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { defaultEngine, isDiskFull, openDatabase, type SqliteEngine } from './database.js';

const major = Number(process.versions.node.split('.')[0]);
const minor = Number(process.versions.node.split('.')[1]);

function loads(engine: SqliteEngine): boolean {
  try {
    openDatabase(':memory:', engine).close();
    return true;
  } catch {
    return false;
  }
}

describe('SQLite', () => {
  it('runs on node:sqlite where Node has it, on better-sqlite3 where it does not', () => {
    const builtIn = major > 22 || (major === 22 && minor >= 13);
    assert.equal(defaultEngine(), builtIn ? 'node:sqlite' : 'better-sqlite3');
  });

  for (const engine of ['node:sqlite', 'better-sqlite3'] as const) {
    const skip = loads(engine) ? false : `${engine} does not load on Node ${process.version}`;
    describe(engine, { skip }, () => {
      it('prepares, binds, reads rows and counts changes', () => {
        const db = openDatabase(':memory:', engine);
        assert.equal(db.engine, engine);
        db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, note TEXT)');
        const insert = db.prepare<[string, number, string | null]>('INSERT INTO t VALUES (?, ?, ?)');
        assert.equal(insert.run('a', 1, null).changes, 1);
        assert.equal(insert.run('b', 2, 'two').lastInsertRowid, 2);
        const one = db.prepare<[string], { k: string; n: number; note: string | null }>(
          'SELECT * FROM t WHERE k = ?',
        );
        assert.deepEqual({ ...one.get('a') }, { k: 'a', n: 1, note: null });
        assert.equal(one.get('z'), undefined);
        assert.deepEqual(
          db
            .prepare<[], { k: string }>('SELECT k FROM t ORDER BY k')
            .all()
            .map((r) => r.k),
          ['a', 'b'],
        );
        assert.equal(db.prepare('UPDATE t SET n = n + 1').run().changes, 2);
        db.close();
        assert.equal(db.open, false);
      });

      it('answers pragmas with their rows', () => {
        const db = openDatabase(':memory:', engine);
        db.exec('CREATE TABLE t (a TEXT, b INTEGER)');
        const columns = db.pragma('table_info(t)') as Array<{ name: string }>;
        assert.deepEqual(
          columns.map((c) => c.name),
          ['a', 'b'],
        );
        db.pragma('foreign_keys = ON');
        assert.deepEqual({ ...(db.pragma('foreign_keys')[0] as object) }, { foreign_keys: 1 });
        db.close();
      });

      it('commits a transaction, rolls back one that throws, and nests as savepoints', () => {
        const db = openDatabase(':memory:', engine);
        db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
        const add = db.prepare<[string]>('INSERT INTO t VALUES (?)');
        const count = () => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
        assert.equal(
          db.transaction(() => {
            add.run('a');
            return 'done';
          }),
          'done',
        );
        assert.throws(() =>
          db.transaction(() => {
            add.run('b');
            throw new Error('undo');
          }),
        );
        assert.equal(count(), 1, 'the failed transaction left nothing');
        db.transaction(() => {
          add.run('c');
          assert.equal(db.inTransaction, true);
          assert.throws(() =>
            db.transaction(() => {
              add.run('d');
              add.run('c'); // a constraint failure: the savepoint undoes d only
            }),
          );
          add.run('e');
        });
        assert.equal(db.inTransaction, false);
        assert.deepEqual(
          db
            .prepare<[], { k: string }>('SELECT k FROM t ORDER BY k')
            .all()
            .map((r) => r.k),
          ['a', 'c', 'e'],
        );
        // Inside a transaction the caller opened (group commit): a savepoint within it.
        db.exec('BEGIN IMMEDIATE');
        db.transaction(() => add.run('f'));
        db.exec('ROLLBACK');
        assert.equal(count(), 3);
        db.close();
      });

      it('names a full database as such', async (t) => {
        const dir = await mkdtemp(path.join(tmpdir(), 'valet-sqlite-'));
        t.after(() => rm(dir, { recursive: true, force: true }));
        const db = openDatabase(path.join(dir, 'full.sqlite'), engine);
        t.after(() => db.close());
        db.exec('CREATE TABLE t (v TEXT)');
        db.pragma('max_page_count = 3');
        const insert = db.prepare<[string]>('INSERT INTO t VALUES (?)');
        let error: unknown;
        try {
          for (let i = 0; i < 100; i++) insert.run('x'.repeat(1000));
        } catch (caught) {
          error = caught;
        }
        assert.ok(error, 'the database filled up');
        assert.equal(isDiskFull(error), true);
        assert.equal(isDiskFull(new Error('other')), false);
      });
    });
  }
});
