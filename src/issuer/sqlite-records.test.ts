import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteRecordStore } from './sqlite-records.js';
import { recordStoreContract } from './testing.js';

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
    const old = new Database(file);
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
    };
    assert.equal((await store.reserveUpload(grant, {}, now)).ok, true);
    assert.equal((await store.getGrant(grant.id))?.reservedUntil, now + 3600_000);
    await store.close();
  });
});
