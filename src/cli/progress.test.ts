import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { line, progressBar } from './progress.js';

describe('CLI progress', () => {
  it('says progress in units, with the speed and the time left', () => {
    assert.equal(
      line('upload', 0, 100, undefined),
      'upload   [..............................]   0%  0 bytes / 100 bytes',
    );
    assert.equal(
      line('upload', 2 ** 29, 2 ** 30, 64 * 2 ** 20),
      'upload   [###############...............]  50%  512 MiB / 1 GiB  64 MiB/s  8 s left',
    );
    assert.equal(
      line('hashing', 2 ** 30, 2 ** 30, 2 ** 30),
      'hashing  [##############################] 100%  1 GiB / 1 GiB  1 GiB/s',
    );
    assert.equal(line('download', 1536, undefined, undefined), 'download 1.5 KiB');
  });

  it('draws on a terminal only, and measures the speed with the clock it is given', (t) => {
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
    let clock = 0;
    const bar = progressBar('upload', () => clock);
    bar.update(0, 10 * 2 ** 20);
    clock = 1000;
    bar.update(2 ** 20, 10 * 2 ** 20);
    bar.done();
    assert.match(
      written.join(''),
      /\rupload {3}\[###\.+\] {2}10% {2}1 MiB \/ 10 MiB {2}1 MiB\/s {2}9 s left/,
    );
    assert.equal(written.at(-1), '\n');
  });
});
