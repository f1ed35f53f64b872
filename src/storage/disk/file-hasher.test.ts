import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HashPool } from './file-hasher.js';
import { closeFd, HEADER_SIZE, openFd } from './object-file.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A file laid out as an upload's: header space, then `body`. */
async function uploadFile(body: Buffer): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-hasher-'));
  const file = path.join(dir, 'part');
  await writeFile(file, Buffer.concat([Buffer.alloc(HEADER_SIZE, 0xee), body]));
  return file;
}

describe('HashPool', () => {
  it('hashes the bytes after the header as they are said to land, in any steps', async () => {
    const pool = new HashPool(2);
    for (const size of [0, 1, 65_535, 1024 * 1024 + 7, 5 * 1024 * 1024]) {
      const body = randomBytes(size);
      const fd = await openFd(await uploadFile(body), 'r');
      try {
        const job = pool.job();
        // Told in uneven steps, sometimes twice the same, as write callbacks would.
        for (let at = 0; at < size; at += 300_001) job.landed(fd, at);
        job.landed(fd, Math.floor(size / 2));
        job.landed(fd, size);
        assert.equal(await job.digest(), sha(body), `${size} bytes`);
      } finally {
        await closeFd(fd);
      }
    }
  });

  it('keeps jobs apart on the same thread, and hashes across descriptors (a PATCH each)', async () => {
    const pool = new HashPool(1);
    const a = randomBytes(3 * 1024 * 1024);
    const b = randomBytes(2 * 1024 * 1024);
    const [fileA, fileB] = [await uploadFile(a), await uploadFile(b)];
    const jobA = pool.job();
    const jobB = pool.job();
    // Job A reads its first half through one descriptor, which is closed once it is in sync.
    const first = await openFd(fileA, 'r');
    jobA.landed(first, a.length / 2);
    await jobA.sync();
    await closeFd(first);
    const fdB = await openFd(fileB, 'r');
    const second = await openFd(fileA, 'r');
    jobB.landed(fdB, b.length);
    jobA.landed(second, a.length);
    assert.deepEqual(await Promise.all([jobA.digest(), jobB.digest()]), [sha(a), sha(b)]);
    await closeFd(fdB);
    await closeFd(second);
  });

  it('rejects with the file system error; drop waits for the reads queued before it', async () => {
    const pool = new HashPool(1);
    const body = randomBytes(1024 * 1024);
    const file = await uploadFile(body);
    // A descriptor open for writing only cannot be read back: EBADF reaches the caller.
    const writeOnly = await openFd(file, 'a');
    const job = pool.job();
    job.landed(writeOnly, body.length);
    await assert.rejects(job.digest(), { code: 'EBADF' });
    await closeFd(writeOnly);
    // More bytes said to land than the file holds: the short file is an error, never a digest.
    const fd = await openFd(file, 'r');
    const short = pool.job();
    short.landed(fd, body.length + 10);
    await assert.rejects(short.sync(), { code: 'ESHORT' });
    await short.drop();
    // A job dropped with reads queued: drop resolves after them (the caller may then close).
    const dropped = pool.job();
    dropped.landed(fd, body.length);
    await dropped.drop();
    await closeFd(fd);
    // The thread is still fine for the next job.
    const fd2 = await openFd(file, 'r');
    const next = pool.job();
    next.landed(fd2, body.length);
    assert.equal(await next.digest(), sha(body));
    await closeFd(fd2);
  });
});
