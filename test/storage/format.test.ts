// End-to-end: a new data directory's format marker reaches the disk before storage serves, so a
// power loss right after the first start cannot leave it empty. Checked on the system calls
// (strace): the marker is written to a temporary file, fsynced, renamed into place, and the
// directory fsynced after the rename.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { keyFiles, testKey } from '../helpers/keys.js';
import { runValet, startStorage } from '../helpers/storage.js';

describe('a new data directory', () => {
  it('gets its format.json durably: written, fsynced, renamed, then its directory fsynced', async (t) => {
    const key = await testKey();
    const dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'valet-format-')), 'data');
    const trace = path.join(path.dirname(dataDir), 'trace.txt');
    const storage = await startStorage(
      {
        jwksFile: (await keyFiles([key])).jwksFile,
        dataDir,
        prefix: [
          'strace',
          '-f',
          '-qq',
          '-e',
          'trace=openat,fsync,fdatasync,rename,renameat,renameat2',
          '-o',
          trace,
          '--',
        ],
      },
      t,
    );
    await storage.stop();
    const calls = (await readFile(trace, 'utf8')).split('\n').map((line) => line.replace(/^\d+\s+/, ''));
    const fdOf = (file: string) =>
      calls.findIndex((c) => c.startsWith('openat(') && c.includes(`"${file}"`) && / = \d+$/.test(c));
    const tmpOpen = fdOf(path.join(dataDir, 'format.json.tmp'));
    assert.ok(tmpOpen >= 0, 'the marker is written to a temporary file first');
    const tmpFd = /= (\d+)$/.exec(calls[tmpOpen] as string)?.[1];
    const synced = calls.findIndex((c, i) => i > tmpOpen && c.startsWith(`fsync(${tmpFd})`));
    const renamed = calls.findIndex(
      (c) =>
        /^rename/.test(c) &&
        c.includes('format.json.tmp"') &&
        c.includes(`"${path.join(dataDir, 'format.json')}"`),
    );
    assert.ok(synced > tmpOpen, 'the temporary file is fsynced');
    assert.ok(renamed > synced, 'and renamed over format.json only after');
    const dirOpen = calls.findIndex(
      (c, i) => i > renamed && c.startsWith('openat(') && c.includes(`"${dataDir}"`) && / = \d+$/.test(c),
    );
    const dirFd = /= (\d+)$/.exec(calls[dirOpen] as string)?.[1];
    assert.ok(
      calls.some((c, i) => i > dirOpen && c.startsWith(`fsync(${dirFd})`)),
      'the directory is fsynced after the rename',
    );
    assert.deepEqual(JSON.parse(await readFile(path.join(dataDir, 'format.json'), 'utf8')), {
      format: 'valet-storage',
      version: 1,
    });
  });

  it('is repaired when an earlier start left format.json empty, and refused beside foreign files', async (t) => {
    const key = await testKey();
    const jwksFile = (await keyFiles([key])).jwksFile;
    const dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'valet-format-')), 'data');
    await mkdir(path.join(dataDir, 'objects', '00'), { recursive: true });
    await writeFile(path.join(dataDir, 'format.json'), '');
    await writeFile(path.join(dataDir, 'storage.lock'), '999999\n');
    const storage = await startStorage({ jwksFile, dataDir }, t);
    await storage.stop();
    assert.match(await readFile(path.join(dataDir, 'format.json'), 'utf8'), /valet-storage/);

    const foreign = path.join(await mkdtemp(path.join(tmpdir(), 'valet-format-')), 'data');
    await mkdir(foreign);
    await writeFile(path.join(foreign, 'format.json'), '');
    await writeFile(path.join(foreign, 'thesis.tex'), 'mine');
    const refused = await runValet(['storage', '--data', foreign, '--jwks', jwksFile, '--port', '0']);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /format\.json is empty and .* holds files Valet did not make \(thesis\.tex\)/,
    );
  });
});
