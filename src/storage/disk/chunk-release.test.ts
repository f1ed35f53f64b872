import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebStream } from 'node:stream/web';
import { describe, it } from 'node:test';
import { webRequest } from '../http/tus-request.js';
import { canRelease, ownChunk, releaseChunk, releaseOwned } from './chunk-release.js';
import { closeFd, HEADER_SIZE, openFd } from './object-file.js';
import { writeChunk } from './upload-chunk.js';

// Node 22 and later free a released chunk at once (detached: 0 bytes); Node 20 lacks
// ArrayBuffer.prototype.transfer, and every release is a no-op there.
const freed = (chunk: Buffer) => chunk.buffer.byteLength === 0;

describe('chunk release', () => {
  it('frees only a whole buffer of its own', () => {
    const whole = Buffer.from(new ArrayBuffer(64 * 1024));
    releaseChunk(whole);
    assert.equal(freed(whole), canRelease);
    const backing = new ArrayBuffer(64 * 1024);
    const slice = Buffer.from(backing, 1024, 8192);
    releaseChunk(slice);
    assert.equal(backing.byteLength, 64 * 1024, 'a slice of a larger buffer is left alone');
    const pooled = Buffer.from('a small string lives in the shared pool');
    releaseChunk(pooled);
    assert.equal(pooled.toString(), 'a small string lives in the shared pool');
  });

  it('frees, once landed, only chunks whose source vouched for them', () => {
    const mine = Buffer.from(new ArrayBuffer(16 * 1024));
    const theirs = Buffer.from(new ArrayBuffer(16 * 1024));
    ownChunk(mine);
    releaseOwned(mine);
    releaseOwned(theirs);
    assert.equal(freed(mine), canRelease);
    assert.equal(freed(theirs), false);
  });

  it('a tus PATCH body: chunks from the socket reach the part file, then are freed', async () => {
    const pieces = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(10_000)];
    const expected = Buffer.concat(pieces);
    const req = Object.assign(Readable.from(pieces, { objectMode: false }), {
      rawHeaders: ['Host', 'x', 'Content-Type', 'application/offset+octet-stream'],
      headers: { host: 'x' },
      url: '/uploads/abc',
      complete: true,
    }) as unknown as http.IncomingMessage;
    const request = webRequest(req, 'PATCH', () => {});
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-release-'));
    const file = path.join(dir, 'part');
    const fd = await openFd(file, 'w+');
    const body = Readable.fromWeb(request.body as WebStream);
    const position = await writeChunk(fd, body, {
      offset: 0,
      size: expected.length,
      running: undefined,
      expected: undefined,
    });
    await closeFd(fd);
    assert.equal(position, expected.length);
    const written = (await readFile(file)).subarray(HEADER_SIZE);
    assert.equal(
      createHash('sha256').update(written).digest('hex'),
      createHash('sha256').update(expected).digest('hex'),
    );
    assert.deepEqual(
      pieces.map((p) => freed(p)),
      pieces.map(() => canRelease),
    );
  });
});
