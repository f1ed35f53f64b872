import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openDatabase } from './database.js';
import { GroupCommit } from './group-commit.js';

describe('group commit', () => {
  it('commits the writes of one turn together, a throwing write undoing only itself', async () => {
    const db = openDatabase(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    const commits = new GroupCommit(db);
    const insert = (v: number) => () => db.prepare('INSERT INTO t (v) VALUES (?)').run(v);
    const first = commits.write(insert(1));
    assert.equal(db.inTransaction, true, 'the turn opened one transaction');
    const failing = commits.write(() => {
      insert(2)();
      throw new Error('no');
    });
    const third = commits.write(insert(3));
    await assert.rejects(failing, /no/);
    await Promise.all([first, third]);
    assert.equal(db.inTransaction, false, 'and committed it');
    const rows = db.prepare('SELECT v FROM t ORDER BY v').all() as Array<{ v: number }>;
    assert.deepEqual(
      rows.map((r) => r.v),
      [1, 3],
    );
    db.close();
  });

  it('flushes until no commit is open, a write opened meanwhile included', async () => {
    const db = openDatabase(':memory:');
    db.exec('CREATE TABLE t (v INTEGER)');
    const commits = new GroupCommit(db);
    void commits.write(() => db.prepare('INSERT INTO t (v) VALUES (1)').run());
    setImmediate(() => void commits.write(() => db.prepare('INSERT INTO t (v) VALUES (2)').run()));
    await commits.flush();
    await new Promise((r) => setImmediate(r));
    await commits.flush();
    assert.equal(db.inTransaction, false);
    assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 2);
    db.close();
  });
});
