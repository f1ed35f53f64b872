import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isValetError } from '../../token/errors.js';
import { decodeRecords, encodeRecord, Journal, type JournalRecord } from './journal.js';
import { FileStore } from './store.js';
import { metaFor, put, read, received } from './store-fixtures.js';

const tempDir = () => mkdtemp(path.join(tmpdir(), 'valet-journal-'));
const bytes = (parts: Buffer[]) => Buffer.concat(parts);

describe('journal records', () => {
  const records: JournalRecord[] = [
    { kind: 'put', key: 'a/é', keyId: 'k'.repeat(22), content: [Buffer.from('header'), Buffer.from('body')] },
    { kind: 'delete', key: 'b' },
    { kind: 'supersede', key: 'a/é', keyId: 'x'.repeat(22) },
    { kind: 'void', key: 'c', keyId: 'y'.repeat(22) },
  ];
  const file = bytes(records.flatMap(encodeRecord));

  it('round-trip every kind', () => {
    const decoded = decodeRecords(file);
    assert.equal(decoded.length, 4);
    assert.deepEqual(decoded[0], { ...records[0], content: [Buffer.from('headerbody')] });
    assert.deepEqual(decoded.slice(1), records.slice(1));
  });

  it('stop at a torn tail: every byte of the last record counts', () => {
    const lastStart = bytes(records.slice(0, 3).flatMap(encodeRecord)).length;
    for (let cut = lastStart; cut < file.length; cut++) {
      assert.equal(decodeRecords(file.subarray(0, cut)).length, 3, `cut at ${cut}`);
    }
  });

  it('stop at a corrupt record, and do not read past it', () => {
    const secondStart = encodeRecord(records[0] as JournalRecord).reduce((n, b) => n + b.length, 0);
    const damaged = Buffer.from(file);
    damaged[secondStart + 10] = (damaged[secondStart + 10] as number) ^ 1;
    assert.equal(decodeRecords(damaged).length, 1);
  });
});

describe('Journal', () => {
  it('makes many concurrent puts durable with few fdatasyncs (group commit)', async () => {
    const { journal } = await Journal.open(await tempDir(), { sync: async () => {}, checkpointMs: 60_000 });
    const tickets = await Promise.all(
      Array.from({ length: 64 }, (_, i) => journal.put(`k${i}`, `id${i}`, [Buffer.alloc(4096, i)])),
    );
    // The first flush takes the first put alone; every later one waits for it and shares the next.
    assert.ok(journal.flushes <= 3, `${journal.flushes} flushes for 64 puts`);
    for (const t of tickets) t.applied();
    assert.ok(journal.has('k5'));
    await journal.close({ checkpoint: false });
  });

  it('checkpoints only after every put is applied, then flushes the file system and drops the file', async () => {
    const dir = await tempDir();
    let syncs = 0;
    const { journal } = await Journal.open(dir, {
      sync: async () => {
        syncs++;
      },
      checkpointMs: 20,
    });
    const ticket = await journal.put('a', 'id-a', [Buffer.from('x')]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(syncs, 0, 'no checkpoint while a rename is outstanding');
    assert.ok(journal.has('a'));
    ticket.applied();
    for (let i = 0; i < 100 && syncs === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    await journal.settled();
    assert.equal(syncs, 1);
    assert.equal(journal.has('a'), false);
    const left = await readdir(dir);
    assert.equal(left.length, 1, `only the new, empty file: ${left}`);
    assert.equal((await readFile(path.join(dir, left[0] as string))).length, 0);
    await journal.close();
    assert.deepEqual(await readdir(dir), []);
  });

  it('returns what a crash left, in order, and removes it once recovered', async () => {
    const dir = await tempDir();
    const first = await Journal.open(dir, { sync: async () => {}, checkpointMs: 60_000 });
    (await first.journal.put('a', 'id1', [Buffer.from('one')])).applied();
    await first.journal.mark({ kind: 'delete', key: 'a' });
    await first.journal.close({ checkpoint: false });
    const second = await Journal.open(dir, { sync: async () => {} });
    assert.deepEqual(
      second.records.map((r) => r.kind),
      ['put', 'delete'],
    );
    await second.recovered();
    await second.journal.close();
    assert.deepEqual(await readdir(dir), []);
  });
});

// ---- replay through the store ---------------------------------------------------------------

describe('FileStore with the journal', () => {
  const open = (dir: string, onReplay?: (n: number) => void) =>
    FileStore.open(dir, {
      syncFileSystem: async () => {},
      journalCheckpointMs: 60_000,
      ...(onReplay && { onReplay }),
    });

  it('rewrites a journaled object whose file was torn by a crash', async () => {
    const dir = path.join(await tempDir(), 'data');
    const store = await open(dir);
    const v1 = Buffer.alloc(3000, 1);
    await put(store, 'doc', v1, 'id-v1-aaaaaaaaaaaaa');
    assert.deepEqual(await read(store, 'doc'), v1);
    await store.close({ crash: true });
    // The rename was never fsynced: after a power cut the file may hold anything.
    await truncate(store.pathFor('doc'), 10);
    let replayed = -1;
    const reopened = await open(dir, (n) => {
      replayed = n;
    });
    assert.equal(replayed, 1);
    assert.deepEqual(await read(reopened, 'doc'), v1);
    assert.deepEqual(await readdir(path.join(dir, 'journal')), ['000000000002.log']);
    await reopened.close();
    assert.deepEqual(await readdir(path.join(dir, 'journal')), []);
  });

  it('does not bring back a deleted object, nor override a later large version that landed', async () => {
    const dir = path.join(await tempDir(), 'data');
    const store = await open(dir);
    const small = Buffer.alloc(100, 2);
    await put(store, 'gone', small, 'id-gone-aaaaaaaaaaaa');
    const saved = await readFile(store.pathFor('gone'));
    assert.equal(await store.delete('gone'), true);
    await put(store, 'big', small, 'id-small-aaaaaaaaaaa');
    const large = Buffer.alloc(200 * 1024, 3); // too large for memory: committed with fsyncs
    await put(store, 'big', large, 'id-large-aaaaaaaaaaa');
    await store.close({ crash: true });
    await writeFile(store.pathFor('gone'), saved); // as if the unlink had not reached the disk
    const reopened = await open(dir);
    assert.equal(await read(reopened, 'gone'), undefined);
    assert.deepEqual(await read(reopened, 'big'), large);
    await reopened.close();
  });

  it('keeps the journaled version when the large version that followed did not land', async () => {
    const dir = path.join(await tempDir(), 'data');
    const store = await open(dir);
    const small = Buffer.alloc(100, 4);
    await put(store, 'k', small, 'id-small-bbbbbbbbbbb');
    const smallFile = await readFile(store.pathFor('k'));
    await put(store, 'k', Buffer.alloc(200 * 1024, 5), 'id-large-bbbbbbbbbbb');
    await store.close({ crash: true });
    // The large rename was lost with the crash, and the small file it replaced is torn.
    await writeFile(store.pathFor('k'), smallFile.subarray(0, 4100));
    const reopened = await open(dir);
    assert.deepEqual(await read(reopened, 'k'), small);
    await reopened.close();
  });

  it('skips a journaled upload that was refused before its commit', async () => {
    const dir = path.join(await tempDir(), 'data');
    const store = await open(dir);
    const before = Buffer.alloc(50, 6);
    await put(store, 'k', before, 'id-before-cccccccccc');
    const upload = await received(store, Buffer.alloc(60, 7));
    const ticket = await store.seal(upload, metaFor('k', Buffer.alloc(60, 7), 'id-refused-ccccccccc'), false);
    assert.ok(ticket, 'a small upload is journaled');
    await store.abandon('k', 'id-refused-ccccccccc', ticket);
    await upload.discard();
    await store.close({ crash: true });
    const reopened = await open(dir);
    assert.deepEqual(await read(reopened, 'k'), before);
    await reopened.close();
  });

  it('answers a full disk while journaling with insufficient_storage, and leaves the old version', async () => {
    const dir = path.join(await tempDir(), 'data');
    const store = await open(dir);
    const before = Buffer.alloc(50, 8);
    await put(store, 'k', before, 'id-before-dddddddddd');
    // The journal file's descriptor is swapped for /dev/full: every write to it fails with ENOSPC.
    const fds = await readdir('/proc/self/fd');
    const journalFd = await findFd(fds, path.join(dir, 'journal'));
    closeSync(journalFd);
    assert.equal(openSync('/dev/full', 'w'), journalFd, 'the descriptor number was reused');
    await assert.rejects(put(store, 'k', Buffer.alloc(60, 9), 'id-full-dddddddddddd'), (error) => {
      return isValetError(error) && error.code === 'insufficient_storage';
    });
    assert.deepEqual(await read(store, 'k'), before);
    await store.close({ crash: true });
  });
});

async function findFd(fds: string[], journalDir: string): Promise<number> {
  for (const fd of fds) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(journalDir)) return Number(fd);
  }
  throw new Error('no open journal file');
}

describe('a journal checkpoint that fails', () => {
  it('never ends the process: it is reported, retried with a growing delay, and recovers', async () => {
    const dir = await tempDir();
    let failures = 2;
    const reported: Array<{ code: string | undefined; retryMs: number }> = [];
    const { journal } = await Journal.open(dir, {
      sync: async () => {
        if (failures-- > 0) throw Object.assign(new Error('no descriptor left'), { code: 'EMFILE' });
      },
      checkpointMs: 20,
      onCheckpointError: (error, retryMs) => reported.push({ code: error.code, retryMs }),
    });
    (await journal.put('a', 'id-a', [Buffer.from('x')])).applied();
    for (let i = 0; i < 200 && reported.length === 0; i++) await sleep(5);
    assert.equal(journal.failure?.code, 'EMFILE', 'the failure is known while it lasts');
    assert.ok(journal.has('a'), 'the record stays in the journal until a checkpoint succeeds');
    for (let i = 0; i < 400 && journal.failure; i++) await sleep(5);
    await journal.settled();
    assert.equal(journal.failure, undefined, 'a later try succeeded');
    assert.deepEqual(
      reported.map((r) => r.code),
      ['EMFILE', 'EMFILE'],
    );
    assert.ok((reported[1]?.retryMs ?? 0) > (reported[0]?.retryMs ?? 0), 'the delay grows');
    assert.equal(journal.has('a'), false);
    assert.equal((await readdir(dir)).length, 1, 'the old file was dropped once the checkpoint succeeded');
    await journal.close();
  });

  it('refuses small uploads with 503 while it fails (large ones go on), and takes them again after', async () => {
    const dir = path.join(await tempDir(), 'data');
    let failing = true;
    const store = await FileStore.open(dir, {
      syncFileSystem: async () => {
        if (failing) throw Object.assign(new Error('I/O error'), { code: 'EIO' });
      },
      journalCheckpointMs: 10,
      onCheckpointError: () => {},
    });
    await put(store, 'first', Buffer.alloc(100, 1), 'id-first-eeeeeeeeeee');
    for (let i = 0; i < 200 && !store.journalFailure; i++) await sleep(5);
    assert.equal(store.journalFailure?.code, 'EIO');
    await assert.rejects(put(store, 'small', Buffer.alloc(100, 2), 'id-small-eeeeeeeeeee'), (error) => {
      return isValetError(error, 'unavailable') && /cannot write to its disk/.test(error.message);
    });
    assert.throws(
      () => store.refuseIfJournalFailing(100, false),
      (error) => isValetError(error, 'unavailable'),
    );
    assert.doesNotThrow(
      () => store.refuseIfJournalFailing(1024 * 1024, false),
      'a large upload is not journaled',
    );
    assert.doesNotThrow(() => store.refuseIfJournalFailing(100, true), 'nor is a create-only one');
    const large = Buffer.alloc(200 * 1024, 3);
    await put(store, 'large', large, 'id-large-eeeeeeeeeee');
    assert.deepEqual(await read(store, 'large'), large);
    failing = false;
    for (let i = 0; i < 2000 && store.journalFailure; i++) await sleep(5);
    assert.equal(store.journalFailure, undefined);
    await put(store, 'small', Buffer.alloc(100, 2), 'id-small-eeeeeeeeeee');
    assert.deepEqual(await read(store, 'small'), Buffer.alloc(100, 2));
    await store.close();
  });

  it('a full disk refuses them with 507', async () => {
    const dir = path.join(await tempDir(), 'data');
    const store = await FileStore.open(dir, {
      syncFileSystem: async () => {
        throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
      },
      journalCheckpointMs: 10,
      onCheckpointError: () => {},
    });
    await put(store, 'first', Buffer.alloc(100, 1), 'id-first-fffffffffff');
    for (let i = 0; i < 200 && !store.journalFailure; i++) await sleep(5);
    assert.throws(
      () => store.refuseIfJournalFailing(100, false),
      (error) => isValetError(error, 'insufficient_storage'),
    );
    await store.close();
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
