import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openDatabase } from '../../sqlite/database.js';
import { recordStoreContract } from './contract.js';
import { SqliteRecordStore } from './sqlite-records.js';

recordStoreContract('SQLite (in memory)', () => SqliteRecordStore.open(':memory:'));
recordStoreContract('SQLite (file, synchronous=full)', async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-records-'));
  return SqliteRecordStore.open(path.join(dir, 'issuer.sqlite'), { synchronous: 'full' });
});

describe('SQLite records made by an earlier version', () => {
  it('gain the columns added since, and keep working', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-records-')), 'old.sqlite');
    // The grants table as it was before reserved_until.
    const old = openDatabase(file);
    old.exec(`CREATE TABLE grants (id TEXT PRIMARY KEY NOT NULL, subject TEXT NOT NULL, op TEXT NOT NULL,
      object TEXT NOT NULL, rule TEXT NOT NULL, constraints TEXT NOT NULL, issued_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL, kid TEXT NOT NULL, client_address TEXT, user_agent TEXT, share_id TEXT,
      reserved_bytes INTEGER NOT NULL DEFAULT 0, completed_at INTEGER)`);
    old.close();
    const store = SqliteRecordStore.open(file);
    const now = Date.now();
    const grant = {
      id: 'grant-old-000000000001',
      subject: 'alice',
      op: 'put' as const,
      object: 'a',
      rule: 'upload',
      constraints: {},
      issuedAt: now,
      expiresAt: now + 60_000,
      kid: 'k',
      clientAddress: null,
      userAgent: null,
      shareId: null,
      reservedBytes: 10,
      completedAt: null,
      reservedUntil: now + 3600_000,
      description: { filename: 'A.txt' },
    };
    assert.equal((await store.reserveUpload(grant, {}, now)).ok, true);
    assert.equal((await store.getGrant(grant.id))?.reservedUntil, now + 3600_000);
    assert.deepEqual((await store.getGrant(grant.id))?.description, { filename: 'A.txt' });
    await store.close();
  });

  it('bind the share links they hold to the version their object has now; objects gain descriptions', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-records-')), 'old.sqlite');
    await SqliteRecordStore.open(file).close();
    // The shares table as it was before links were bound to a version, with one link in it.
    const old = openDatabase(file);
    old.exec(`ALTER TABLE shares DROP COLUMN etag;
      ALTER TABLE objects DROP COLUMN description;
      INSERT INTO objects (key, owner, state, size, content_type, sha256, etag, created_at, updated_at)
        VALUES ('a', 'alice', 'complete', 1, 'text/plain', 'x', '"v1"', 1, 1);
      INSERT INTO shares (id, secret_hash, object, owner, created_at, expires_at, revoked_at)
        VALUES ('shr_old', 'h', 'a', 'alice', 1, 9999999999999, NULL)`);
    old.close();
    const store = SqliteRecordStore.open(file);
    assert.equal((await store.getShare('shr_old'))?.etag, '"v1"');
    assert.equal((await store.getObject('a'))?.description, undefined, 'an old object says nothing');
    await store.close();
  });
});
