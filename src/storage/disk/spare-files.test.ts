import assert from 'node:assert/strict';
import { mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { HEADER_SIZE } from './object-file.js';
import { MAX_SPARE_BYTES } from './spare-files.js';
import { FileStore } from './store.js';
import { put, read } from './store-fixtures.js';

const tempDir = () => mkdtemp(path.join(tmpdir(), 'valet-spares-'));
const id = (n: number) => `id-${String(n).padStart(19, '0')}`;

/** Every byte a reader streams from an object opened before. */
async function drain(object: NonNullable<Awaited<ReturnType<FileStore['open']>>>): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  await object.send(out, 0, object.meta.size - 1);
  return Buffer.concat(parts);
}

describe('spare files (replaced versions reused for uploads)', () => {
  for (const journal of [true, false]) {
    const open = (dir: string) =>
      FileStore.open(dir, { journal, syncFileSystem: async () => {}, journalCheckpointMs: 60_000 });

    it(`writes the next upload into the file of a replaced version (journal ${journal})`, async () => {
      const store = await open(path.join(await tempDir(), 'data'));
      try {
        await put(store, 'a', Buffer.alloc(500, 1), id(1));
        const first = (await stat(store.pathFor('a'))).ino;
        await put(store, 'a', Buffer.alloc(500, 2), id(2));
        assert.equal(store.spareFiles, 1);
        await put(store, 'b', Buffer.alloc(500, 3), id(3));
        // No inode made or freed: b's file is a's first version's, and nothing else is left.
        assert.equal((await stat(store.pathFor('b'))).ino, first);
        assert.equal(store.spareFiles, 0);
        assert.deepEqual(await read(store, 'a'), Buffer.alloc(500, 2));
        assert.deepEqual(await read(store, 'b'), Buffer.alloc(500, 3));
        assert.deepEqual(await readdir(store.tmpDir), []);
      } finally {
        await store.close();
      }
    });

    it(`cuts off what a reused file held past the new version (journal ${journal})`, async () => {
      const store = await open(path.join(await tempDir(), 'data'));
      try {
        const large = Buffer.alloc(200 * 1024, 4); // past the journal's limit: the fsync way
        await put(store, 'a', large, id(1));
        await put(store, 'a', Buffer.alloc(10, 5), id(2));
        await put(store, 'b', Buffer.alloc(7, 6), id(3)); // into the 200 KiB version's file
        assert.equal((await stat(store.pathFor('b'))).size, HEADER_SIZE + 7);
        assert.deepEqual(await read(store, 'b'), Buffer.alloc(7, 6));
      } finally {
        await store.close();
      }
    });
  }

  it('frees a replaced version larger than it keeps, so spare/ stays small', async () => {
    const store = await FileStore.open(path.join(await tempDir(), 'data'));
    try {
      await put(store, 'a', Buffer.alloc(MAX_SPARE_BYTES, 1), id(1)); // with its header: too large
      await put(store, 'a', Buffer.alloc(10, 2), id(2));
      assert.equal(store.spareFiles, 0);
      assert.deepEqual(await readdir(path.join(store.dir, 'spare')), []);
      await put(store, 'a', Buffer.alloc(10, 3), id(3));
      assert.equal(store.spareFiles, 1);
    } finally {
      await store.close();
    }
  });

  it('never reuses the file of a version a reader still has open', async () => {
    const store = await FileStore.open(path.join(await tempDir(), 'data'));
    try {
      const v1 = Buffer.alloc(20_000, 1);
      await put(store, 'a', v1, id(1));
      const reader = await store.open('a');
      assert.ok(reader);
      await put(store, 'a', Buffer.alloc(20_000, 2), id(2));
      // Were v1's file reused, these would write into the bytes the reader is about to stream.
      for (let i = 0; i < 3; i++) await put(store, `other/${i}`, Buffer.alloc(20_000, 9), id(10 + i));
      assert.deepEqual(await drain(reader), v1);
      // Once the reader is done, the versions replaced from then on are reused again.
      await put(store, 'a', Buffer.alloc(20_000, 3), id(3));
      assert.equal(store.spareFiles, 1);
    } finally {
      await store.close();
    }
  });

  it('keeps every object whole when uploads of one key race', async () => {
    const store = await FileStore.open(path.join(await tempDir(), 'data'), {
      syncFileSystem: async () => {},
      journalCheckpointMs: 60_000,
    });
    try {
      await put(store, 'hot', Buffer.alloc(900, 0), id(0));
      for (let round = 1; round <= 5; round++) {
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            put(store, 'hot', Buffer.alloc(900, round), id(round * 10 + i)),
          ),
        );
        // Spares made by the racing replaces go to other keys: none may be written twice.
        await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            put(store, `k${i}`, Buffer.alloc(900 + i, 100 + round), id(900 + i)),
          ),
        );
        assert.deepEqual(await read(store, 'hot'), Buffer.alloc(900, round));
        for (let i = 0; i < 8; i++)
          assert.deepEqual(await read(store, `k${i}`), Buffer.alloc(900 + i, 100 + round));
      }
    } finally {
      await store.close();
    }
  });

  it('empties spare/ at start-up without calling its files leftovers', async () => {
    const dir = path.join(await tempDir(), 'data');
    const first = await FileStore.open(dir);
    await first.close();
    await writeFile(path.join(dir, 'spare', 'x-1'), 'old version');
    await writeFile(path.join(dir, 'tmp', 'x-2.part'), 'cut upload');
    const swept: string[] = [];
    const store = await FileStore.open(dir, { onSweep: (f) => swept.push(f) });
    await store.close();
    assert.deepEqual(swept, ['x-2.part']);
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
    assert.deepEqual(await readdir(path.join(dir, 'spare')), []);
  });
});
