// `valet upload` asks the issuer before it reads the file, and says how to resume after Ctrl-C.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runValet, VALET_BIN } from '../helpers/storage.js';
import { eventually, OWNER_RULES, startSystem } from '../helpers/system.js';

const GiB = 2 ** 30;

/** A file of `size` bytes that takes no disk (sparse): reading all of it would take minutes. */
async function sparse(size: number, name = 'big.bin'): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-upload-')), name);
  const handle = await open(file, 'w');
  await handle.truncate(size);
  await handle.close();
  return file;
}

describe('valet upload', () => {
  it('is refused over the size limit or the quota before the file is read', async (t) => {
    const system = await startSystem(t, {
      issuer: {
        rules: { ...OWNER_RULES, upload: { ...OWNER_RULES.upload, maxSize: 100 * GiB } },
        quota: { maxBytes: 10 * GiB },
      },
    });
    const auth = ['--issuer', system.served.url, '--token', 'user:alice'];
    // 64 GiB sparse: hashing it first would take minutes; the refusal comes at once.
    const overQuota = await runValet(['upload', await sparse(64 * GiB), ...auth]);
    assert.equal(overQuota.code, 1);
    assert.equal(
      overQuota.stderr,
      'valet upload: this upload would exceed your storage quota: it needs 64 GiB and you use 0 bytes ' +
        'of your 10 GiB (10 GiB left); delete objects to make room\n',
    );
    const overLimit = await runValet(['upload', await sparse(200 * GiB), ...auth]);
    assert.equal(overLimit.code, 1);
    assert.equal(overLimit.stderr, 'valet upload: the file (200 GiB) is larger than the 100 GiB limit\n');
  });

  it('says how to resume when interrupted with Ctrl-C, and resumes when run again', async (t) => {
    const system = await startSystem(t);
    const state = await mkdtemp(path.join(tmpdir(), 'valet-state-'));
    const file = await sparse(48 * 2 ** 20, 'video.bin');
    const args = [VALET_BIN, 'upload', file, '--issuer', system.served.url, '--token', 'user:alice'];
    const env = { ...process.env, VALET_STATE_DIR: state };
    const child = spawn(process.execPath, [...args, '--chunk-size', '1MiB'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Once the resumable upload exists (the client remembers it), Ctrl-C.
    const remembered = path.join(state, 'uploads.json');
    await eventually(async () =>
      existsSync(remembered) && (await readFile(remembered, 'utf8')).includes('video.bin') ? true : undefined,
    );
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.match(
      stderr,
      /^valet upload: interrupted: \d+(\.\d)? (bytes|KiB|MiB) of 48 MiB sent; run the same command again to resume\n$/,
    );
    const again = await runValet([...args.slice(1)], { env: { VALET_STATE_DIR: state } });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /resuming an earlier upload: .* of 48 MiB already stored/);
    assert.equal(again.stdout.trim(), 'users/alice/video.bin');
  });
});
