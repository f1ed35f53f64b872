// End-to-end through the CLI: `valet dev`, then upload, ls, download, share and unshare as users.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, runValet, startValet } from '../helpers/storage.js';
import { eventually } from '../helpers/system.js';

interface Ready {
  issuer: string;
  storage: string;
  web: string;
  users: { alice: string; bob: string };
}

describe('valet dev', () => {
  it('prints commands that work when pasted into a shell as they are', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-dev-banner-'));
    const dev = await startValet(
      ['dev', '--port', '0', '--data', path.join(dir, 'data')],
      /Try it as alice[^\n]*\n {2}(export [^\n]+\n {2}npx valet [^\n]+)\n/,
      t,
    );
    const pasted = dev.url.split('\n').map((line) => line.trim());
    assert.match(pasted[0] as string, /^export VALET_ISSUER=http:\/\/127\.0\.0\.1:\d+ VALET_TOKEN=\S+$/);
    assert.equal(pasted[1], 'npx valet upload package.json && npx valet ls');
    // In the project's directory, as a user would (the repository is one: its package.json).
    const { stdout } = await promisify(execFile)('sh', ['-c', pasted.join('\n')], { cwd: ROOT });
    const lines = stdout.trim().split('\n');
    assert.equal(lines[0], 'users/alice/package.json');
    assert.match(lines[1] as string, /users\/alice\/package\.json$/);
  });

  it('runs the whole system, and the CLI uploads, lists, downloads and shares through it', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-dev-'));
    const dataDir = path.join(dir, 'data');
    const dev = await startValet(['dev', '--port', '0', '--data', dataDir, '--json'], /^(\{.*\})\n/, t);
    assert.equal(dev.output().split('\n').filter(Boolean).length, 1, 'exactly one line with --json');
    const ready = JSON.parse(dev.url) as Ready;
    assert.deepEqual(Object.keys(ready.users), ['alice', 'bob']);
    const as = (user: 'alice' | 'bob') => ['--issuer', ready.issuer, '--token', ready.users[user]];

    const page = await fetch(ready.web);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Valet dev<\/title>/);

    const file = path.join(dir, 'photo.bin');
    const data = randomBytes(300_000);
    await writeFile(file, data);
    const uploaded = await runValet(['upload', file, ...as('alice'), '--json']);
    assert.equal(uploaded.code, 0, uploaded.stderr);
    const result = JSON.parse(uploaded.stdout) as { key: string; size: number; sha256: string };
    assert.equal(result.key, 'users/alice/photo.bin');
    assert.equal(result.size, data.length);

    const listed = await eventually(async () => {
      const ls = await runValet(['ls', ...as('alice'), '--json']);
      const { objects } = JSON.parse(ls.stdout) as { objects: Array<{ key: string; sha256: string }> };
      return objects.length === 1 ? objects : undefined;
    });
    assert.equal(listed[0]?.sha256, result.sha256);
    assert.deepEqual(JSON.parse((await runValet(['ls', ...as('bob'), '--json'])).stdout), {
      objects: [],
      next: null,
    });

    const out = path.join(dir, 'copy.bin');
    const downloaded = await runValet(['download', result.key, ...as('alice'), '--out', out]);
    assert.equal(downloaded.code, 0, downloaded.stderr);
    assert.deepEqual(await readFile(out), data);

    const refused = await runValet([
      'download',
      result.key,
      ...as('bob'),
      '--out',
      path.join(dir, 'bob.bin'),
    ]);
    assert.notEqual(refused.code, 0);
    assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line on stderr');
    assert.match(refused.stderr, /you may not read ".*" \(no read rule allows it\)/);

    const shared = await runValet(['share', result.key, ...as('alice'), '--ttl', '10m']);
    assert.equal(shared.code, 0, shared.stderr);
    const [link, id] = shared.stdout.trim().split('\n');
    assert.ok(link?.startsWith(`${ready.issuer}/s/`));
    assert.deepEqual(Buffer.from(await (await fetch(link as string)).arrayBuffer()), data);
    assert.equal((await runValet(['unshare', id as string, ...as('alice')])).code, 0);
    assert.equal((await fetch(link as string)).status, 404);

    assert.equal(await dev.stop('SIGTERM'), 0);

    // Keys and data survive a restart.
    const again = await startValet(['dev', '--port', '0', '--data', dataDir, '--json'], /^(\{.*\})\n/, t);
    const second = JSON.parse(again.url) as Ready;
    const copy = path.join(dir, 'copy2.bin');
    const redo = await runValet([
      'download',
      result.key,
      '--issuer',
      second.issuer,
      '--token',
      second.users.alice,
      '--out',
      copy,
    ]);
    assert.equal(redo.code, 0, redo.stderr);
    assert.deepEqual(await readFile(copy), data);
    assert.equal(await again.stop('SIGTERM'), 0);
  });

  it('prints one clear line and a non-zero status for every failure', async () => {
    const missing = await runValet([
      'upload',
      '/nonexistent/file',
      '--issuer',
      'http://127.0.0.1:9',
      '--token',
      't',
    ]);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-'));
    const file = path.join(dir, 'a.txt');
    await writeFile(file, 'a');
    const down = await runValet(['upload', file, '--issuer', 'http://127.0.0.1:9', '--token', 't']);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /could not reach the issuer at http:\/\/127\.0\.0\.1:9\b/);
    assert.equal(down.stderr.trim().split('\n').length, 1);
    const noToken = await runValet(['ls', '--issuer', 'http://127.0.0.1:9']);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /--token is required/);
  });
});
