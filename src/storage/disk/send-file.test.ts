import assert from 'node:assert/strict';
import { openSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { LARGE_CHUNK, SendBudget, SendProgress, SMALL_CHUNK, sendFileRange } from './send-file.js';

const SIZE = 8 * 1024 * 1024;

async function objectFile(): Promise<number> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-send-')), 'object');
  writeFileSync(file, Buffer.alloc(SIZE, 7));
  return openSync(file, 'r');
}

/**
 * A client's socket: takes `fast` chunks at once, then holds each chunk it is given (never calls
 * back), as a client that stops reading once the kernel's buffers are full. Records what it holds.
 */
function client(fast: number) {
  const held: number[] = [];
  const sizes: number[] = [];
  let taken = 0;
  const out = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      sizes.push(chunk.length);
      if (taken++ < fast) callback();
      else held.push(chunk.length);
    },
  });
  return { out, held, sizes };
}

describe('sending an object to a client', () => {
  it('starts with small buffers and moves to large ones for a client that keeps up', async () => {
    const fd = await objectFile();
    const budget = new SendBudget(4 * LARGE_CHUNK);
    const { out, sizes } = client(Number.POSITIVE_INFINITY);
    const progress = new SendProgress();
    await sendFileRange(fd, 0, SIZE - 1, out, { budget, progress });
    assert.equal(sizes[0], SMALL_CHUNK);
    assert.ok(sizes.includes(LARGE_CHUNK), 'a client that keeps up gets large buffers');
    assert.equal(progress.sent, SIZE);
    assert.equal(progress.pending, 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(budget.held, 0, "the buffers' share is given back");
  });

  it('keeps what stalled clients hold within the budget plus two small buffers each', async () => {
    const budget = new SendBudget(4 * LARGE_CHUNK);
    const clients = Array.from({ length: 40 }, (_, i) => client(i % 2 === 0 ? 6 : 100));
    const sends = [];
    for (const c of clients) sends.push(sendFileRange(await objectFile(), 0, SIZE - 1, c.out, { budget }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const held = clients.reduce((sum, c) => sum + c.held.reduce((a, b) => a + b, 0), 0);
    assert.ok(held > 0, 'the clients hold chunks');
    assert.ok(
      held <= budget.limit + clients.length * 2 * SMALL_CHUNK,
      `stalled clients hold ${held} bytes: more than the budget and two small buffers each`,
    );
    assert.ok(budget.held <= budget.limit);
    for (const c of clients) c.out.destroy();
    await Promise.all(sends);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(budget.held, 0, 'a cut client gives its share back');
  });

  it('counts what the client took and the time storage waited for it', async () => {
    const fd = await objectFile();
    const { out } = client(3);
    const progress = new SendProgress();
    const sending = sendFileRange(fd, 0, SIZE - 1, out, { progress });
    // The stall starts once the client has taken three chunks and two more are handed over; how
    // long the reads before it take depends on the machine's load, so the wait is timed from it.
    for (const until = Date.now() + 5000; progress.pending < 2 * SMALL_CHUNK && Date.now() < until; )
      await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(progress.sent, 3 * SMALL_CHUNK);
    assert.equal(progress.pending, 2 * SMALL_CHUNK, 'two buffers handed over, not taken');
    assert.ok(progress.waiting.total() >= 100, `waited ${progress.waiting.total()} ms`);
    out.destroy();
    await sending;
  });
});
