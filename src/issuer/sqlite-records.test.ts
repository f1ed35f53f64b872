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
