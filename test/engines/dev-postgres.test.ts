// `valet dev --database postgres://…`: the whole system on one machine, its issuer's records in a
// real PostgreSQL (Debian's, started for this file).
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { startPostgres } from '../helpers/postgres.js';
import { runValet, startValet } from '../helpers/storage.js';

describe('valet dev --database', () => {
  it('keeps the issuer records in PostgreSQL', async (t) => {
    const postgres = await startPostgres();
    t.after(() => postgres.stop());
    const database = await postgres.freshDatabase();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'valet-dev-pg-'));
    const dev = await startValet(
      ['dev', '--port', '0', '--data', dataDir, '--json', '--database', database],
      /^(\{.*\})\n/,
      t,
    );
    const ready = JSON.parse(dev.url) as { issuer: string; users: Record<string, string> };
    const minted = await fetch(`${ready.issuer}/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ready.users.alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ op: 'put', name: 'pg.txt', size: 3 }),
    });
    assert.equal(minted.status, 201);
    const { id } = (await minted.json()) as { id: string };
    const db = new pg.Client({ connectionString: database });
    await db.connect();
    const rows = await db.query('SELECT subject, object FROM valet.grants WHERE id = $1', [id]);
    await db.end();
    assert.equal(rows.rowCount, 1, 'the grant is in PostgreSQL');
    assert.equal(rows.rows[0].object, 'users/alice/pg.txt');
    assert.equal(await dev.stop('SIGTERM'), 0);
  });

  it('refuses a --database that is not a postgres:// URL', async () => {
    const result = await runValet(['dev', '--port', '0', '--database', 'issuer.sqlite']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--database must be a postgres:\/\/ URL/);
  });
});
