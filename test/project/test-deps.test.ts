// The README's test command on a fresh machine: what the tests need beyond Node is installed
// (as root, with apt-get) or named in one line with the command that installs it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/storage.js';

const SCRIPT = path.join(ROOT, 'scripts/test-deps.mjs');

async function pathWith(commands: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-path-'));
  await symlink(process.execPath, path.join(dir, 'node'));
  for (const command of commands) {
    await writeFile(path.join(dir, command), '#!/bin/sh\nexit 0\n');
    await chmod(path.join(dir, command), 0o755);
  }
  return dir;
}

function run(pathDir: string, pgRoot: string, ...args: string[]) {
  // Debian's tus client counts as installed where its folder is the postgres fixture's (it exists
  // exactly when that root does), and Google's signing vectors too (the root holds their files).
  return spawnSync(process.execPath, [SCRIPT, ...args], {
    env: {
      PATH: pathDir,
      VALET_POSTGRES_ROOT: pgRoot,
      VALET_TUSPY_DIR: pgRoot,
      VALET_GCS_VECTORS_DIR: pgRoot,
    },
    encoding: 'utf8',
  });
}

/** A folder laid out like Debian's /usr/lib/postgresql, with or without a server binary. */
async function postgresRoot(withServer: boolean): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'valet-pgroot-'));
  for (const file of ['v4_signatures.json', 'service-account']) await writeFile(path.join(root, file), '{}');
  if (withServer) {
    await mkdir(path.join(root, '15', 'bin'), { recursive: true });
    await writeFile(path.join(root, '15', 'bin', 'postgres'), '');
  }
  return root;
}

describe('the test command on a fresh machine', () => {
  it('names what is missing and the command that installs it, in one line', async () => {
    const bare = await pathWith([]);
    const noPostgres = await postgresRoot(false);
    for (const args of [['--no-install'], []]) {
      // (Without --no-install it cannot install either: no apt-get on this PATH.)
      const result = run(bare, noPostgres, ...args);
      assert.equal(result.status, 1);
      assert.equal(result.stdout, '');
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(
        lines[0] as string,
        /missing \(python3, make, g\+\+, curl, openssl, chromium, radosgw, ceph-mon, ceph-osd, util-linux, e2fsprogs, strace, prometheus, haproxy, clamav-daemon, postgresql\)/,
      );
      assert.match(
        lines[0] as string,
        /sudo apt-get install -y -qq --no-install-recommends python3 make g\+\+ curl openssl chromium radosgw ceph-mon ceph-osd util-linux e2fsprogs strace prometheus haproxy clamav-daemon postgresql$/,
      );
    }
    const some = run(
      await pathWith([
        'python3',
        'make',
        'g++',
        'curl',
        'openssl',
        'radosgw',
        'ceph-mon',
        'prlimit',
        'chattr',
        'strace',
        'prometheus',
        'promtool',
        'haproxy',
        'clamd',
      ]),
      await postgresRoot(true),
      '--no-install',
    );
    assert.match(some.stderr, /missing \(chromium, ceph-osd\)/);
  });

  it('says nothing and goes on when everything is there', async () => {
    const all = await pathWith([
      'python3',
      'make',
      'g++',
      'curl',
      'openssl',
      'chromium',
      'radosgw',
      'ceph-mon',
      'ceph-osd',
      'prlimit',
      'chattr',
      'strace',
      'prometheus',
      'promtool',
      'haproxy',
      'clamd',
    ]);
    const result = run(all, await postgresRoot(true), '--no-install');
    assert.equal(result.status, 0);
    assert.equal(result.stdout + result.stderr, '');
    // PostgreSQL's server is looked for where Debian puts it, off the PATH.
    const noServer = run(all, await postgresRoot(false), '--no-install');
    assert.equal(noServer.status, 1);
    assert.match(noServer.stderr, /missing \(postgresql\)/);
    // Debian's tus client for Python is a folder of /usr/lib/python3, not a command.
    const noTuspy = spawnSync(process.execPath, [SCRIPT, '--no-install'], {
      env: { PATH: all, VALET_POSTGRES_ROOT: await postgresRoot(true), VALET_TUSPY_DIR: '/nonexistent' },
      encoding: 'utf8',
    });
    assert.match(noTuspy.stderr, /missing \(python3-tuspy\)/);
    // Google's V4 signing vectors are files of Debian's golang-google-cloud-dev, not a command.
    const pgRoot = await postgresRoot(true);
    const noVectors = spawnSync(process.execPath, [SCRIPT, '--no-install'], {
      env: {
        PATH: all,
        VALET_POSTGRES_ROOT: pgRoot,
        VALET_TUSPY_DIR: pgRoot,
        VALET_GCS_VECTORS_DIR: '/nonexistent',
      },
      encoding: 'utf8',
    });
    assert.match(noVectors.stderr, /missing \(golang-google-cloud-dev\)/);
  });
});
