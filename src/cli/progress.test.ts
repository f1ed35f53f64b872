import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, progressBar } from './remote.js';

describe('CLI progress', () => {
  it('formats sizes for people', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 2 ** 30), '3.0 GiB');
  });

  it('draws a bar on a terminal only', (t) => {
    const written: string[] = [];
    const original = { write: process.stderr.write, tty: process.stderr.isTTY };
    t.after(() => {
      process.stderr.write = original.write;
      process.stderr.isTTY = original.tty;
    });
    process.stderr.write = ((chunk: string) => {
      written.push(chunk);
      return true;
    }) as typeof process.stderr.write;
    process.stderr.isTTY = false;
    const quiet = progressBar('upload');
    quiet.update(50, 100);
    quiet.done();
    assert.deepEqual(written, []);
    process.stderr.isTTY = true;
    const bar = progressBar('upload');
    bar.update(100, 100);
    bar.done();
    assert.match(written.join(''), /\rupload \[#{30}\] 100% 100 B \/ 100 B/);
  });
});
