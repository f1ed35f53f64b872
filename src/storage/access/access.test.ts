// A single-use key on a full disk: the ledger cannot record its use, so it is refused with 507,
// never served and never a 500 (issue 14, point 6).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openDatabase } from '../../sqlite/database.js';
import { generateSigningJwk, publicJwk, TrustedKeys } from '../../token/keys.js';
import { KeyAccess } from './access.js';
import type { UsedKeyLedger } from './ledger.js';

describe('single-use keys when the disk is full', () => {
  it('refuses the use with 507 insufficient_storage, and records nothing', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-full-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    // A real SQLite database that is full: SQLite reports a page limit reached exactly as a full
    // disk (SQLITE_FULL, "database or disk is full").
    const db = openDatabase(path.join(dir, 'full.sqlite'));
    db.exec('CREATE TABLE used_keys (jti TEXT PRIMARY KEY NOT NULL, exp INTEGER NOT NULL) WITHOUT ROWID');
    db.pragma('max_page_count = 3');
    const insert = db.prepare('INSERT INTO used_keys (jti, exp) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING');
    const ledger = {
      consume: (jti: string, exp: number) => insert.run(jti, exp).changes === 1,
    } as UsedKeyLedger;
    const access = new KeyAccess({
      keys: await TrustedKeys.fromJwks({ keys: [publicJwk(await generateSigningJwk())] }),
      now: Date.now,
      skew: 60,
      maxLifetime: 3600,
      feed: undefined,
      ledger,
    });
    let used = 0;
    for (;;) {
      try {
        access.use(`key-${used}`.padEnd(200, 'x'), 2_000_000_000, 'used');
        used++;
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'insufficient_storage');
        assert.equal((error as { status?: number }).status, 507);
        break;
      }
      assert.ok(used < 10_000, 'the database never filled');
    }
    assert.ok(used > 0, 'some uses fit before it was full');
    const count = (db.prepare('SELECT count(*) AS n FROM used_keys').get() as { n: number }).n;
    assert.equal(count, used, 'the refused use left nothing behind');
    db.close();
  });
});
