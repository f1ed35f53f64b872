import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isValetError } from '../../token/errors.js';
import { normalizeObjectKey } from '../../token/object-key.js';
import { decodeHeader, encodeHeader, HEADER_SIZE, type ObjectMeta } from './object-file.js';
import { FileStore } from './store.js';

const tempDir = () => mkdtemp(path.join(tmpdir(), 'valet-store-'));

const meta: ObjectMeta = {
  key: 'a/é',
  size: 3,
  contentType: 'text/plain',
  sha256: 'ab'.repeat(32),
  etag: `"${'ab'.repeat(32)}"`,
  created: 1,
  subject: 's',
  keyId: 'k'.repeat(22),
};

describe('FileStore', () => {
  it('round-trips object metadata through the fixed-size header', () => {
    const header = encodeHeader(meta);
    assert.equal(header.length, HEADER_SIZE);
    assert.deepEqual(decodeHeader(header), meta);
    assert.throws(() => decodeHeader(Buffer.alloc(HEADER_SIZE)));
  });

  it('fits the largest metadata a key allows in the header', () => {
    const big = {
      ...meta,
      key: `${'é'.repeat(127)}/`.repeat(4).slice(0, -1),
      subject: 'ü'.repeat(256),
      contentType: 'x'.repeat(255),
    };
    assert.deepEqual(decodeHeader(encodeHeader(big)), big);
  });

  it('maps every valid key inside objects/ by hash, never by its characters (property)', async () => {
    const dir = await tempDir();
    const store = await FileStore.open(path.join(dir, 'data'));
    try {
      const objects = path.join(store.dir, 'objects');
      fc.assert(
        fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), (input) => {
          let key: string;
          try {
            key = normalizeObjectKey(input);
          } catch {
            return;
          }
          const file = store.pathFor(key);
          assert.equal(path.dirname(path.dirname(file)), objects);
          assert.match(path.relative(objects, file), /^[0-9a-f]{2}\/[0-9a-f]{64}$/);
        }),
        { numRuns: 2000 },
      );
    } finally {
      await store.close();
    }
  });

  it("keeps an upload's file descriptor until discard, so a failed upload never closes another file", async () => {
    const dir = await tempDir();
    const store = await FileStore.open(path.join(dir, 'data'));
    try {
      const upload = await store.beginUpload();
      const source = Object.assign(new PassThrough(), { complete: false }) as unknown as IncomingMessage;
      const receiving = upload.receive(source, {});
      (source as unknown as PassThrough).write(Buffer.alloc(100_000));
      source.destroy(); // the client went away mid-body
      await assert.rejects(receiving, (e) => isValetError(e, 'incomplete_body'));
      // The kernel hands out the lowest free descriptor: had the failed upload closed its own,
      // this open would get that number and discard() would close it.
      const other = openSync(path.join(store.dir, 'format.json'), 'r');
      try {
        await upload.discard();
        assert.doesNotThrow(() => fstatSync(other), 'discard closed a descriptor it did not own');
      } finally {
        closeSync(other);
      }
      assert.deepEqual(await readdir(store.tmpDir), []);
    } finally {
      await store.close();
    }
  });

  it('sweeps temporary files left by a crash when it opens', async () => {
    const dir = path.join(await tempDir(), 'data');
    const first = await FileStore.open(dir);
    await first.close();
    await writeFile(path.join(dir, 'tmp', 'leftover.part'), 'x');
    const swept: string[] = [];
    const store = await FileStore.open(dir, { onSweep: (f) => swept.push(f) });
    await store.close();
    assert.deepEqual(swept, ['leftover.part']);
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
  });

  it('refuses a directory in use by a live process, and takes over one left by a dead process', async () => {
    const dir = path.join(await tempDir(), 'data');
    const store = await FileStore.open(dir);
    await store.close();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await writeFile(path.join(dir, 'storage.lock'), `${sleeper.pid}\n`);
      await assert.rejects(
        FileStore.open(dir),
        (e) => isValetError(e, 'invalid_options') && /in use/.test(e.message),
      );
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.once('exit', r));
    }
    const reopened = await FileStore.open(dir);
    await reopened.close();
  });

  it('refuses a non-empty directory that is not a Valet data directory', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'precious.txt'), 'do not touch');
    await assert.rejects(FileStore.open(dir), (e) => isValetError(e, 'invalid_options'));
    assert.deepEqual(await readdir(dir), ['precious.txt']);
  });
});
