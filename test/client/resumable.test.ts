// End-to-end: large uploads from the client SDK and the CLI go resumable (tus on Valet storage),
// survive dropped connections, a storage restart and a client restart, and outlive their keys:
// the issuer renews a key for the same upload, only for its owner, and records each renewal.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { ValetError } from '../../src/token/errors.js';
import { startValet, VALET_BIN } from '../helpers/storage.js';
import { eventually, OWNER_RULES, startSystem } from '../helpers/system.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('resumable uploads through the issuer', () => {
  it('uploads a large Blob in chunks, records one grant and one event, and lists the object', async (t) => {
    const system = await startSystem(t);
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const client = createClient({
      issuer: system.served.url,
      getToken: () => 'user:alice',
      resumableThreshold: 1024 * 1024,
      chunkSize: 512 * 1024,
      resumeStore: null,
    });
    const seen: number[] = [];
    const result = await client.upload(new Blob([data]), {
      name: 'big.bin',
      sha256: true,
      onProgress: (p) => seen.push(p.loaded),
    });
    assert.equal(result.sha256, sha256(data));
    assert.equal(result.size, data.length);
    assert.equal(result.bytes.toStorage, data.length);
    assert.equal(seen.at(-1), data.length);
    assert.ok(seen.length >= 7, 'progress through the chunks');
    const events = await eventually(async () => {
      const rows = await system.issuer.records.listEvents('users/alice/big.bin');
      return rows.length > 0 ? rows : undefined;
    });
    assert.equal(events.length, 1);
    const grant = await system.issuer.records.getGrant(events[0]?.keyId as string);
    assert.equal(grant?.constraints.resumable, true);
    assert.ok(grant?.completedAt);
    const listed = await client.list();
    assert.deepEqual(
      listed.map((o) => [o.key, o.size, o.sha256]),
      [['users/alice/big.bin', data.length, sha256(data)]],
    );
    const download = await client.download('users/alice/big.bin');
    const back = Buffer.from(new Uint8Array(await (await download.blob()).arrayBuffer()));
    assert.equal(sha256(back), sha256(data));
    // An empty file, forced resumable, is stored too.
    const empty = await client.upload(new Blob([]), { name: 'empty.bin', resumable: true });
    assert.equal(empty.size, 0);
    assert.ok(empty.upload);
    assert.equal(empty.sha256, sha256(Buffer.alloc(0)));
  });

  it('goes on with the key in hand while the issuer cannot renew it (an app outage)', async (t) => {
    const system = await startSystem(t, {
      issuer: { rules: { ...OWNER_RULES, upload: { ...OWNER_RULES.upload, ttl: 60 } } },
    });
    const data = randomBytes(1024 * 1024);
    let renewals = 0;
    const client = createClient({
      issuer: system.served.url,
      getToken: () => 'user:alice',
      resumableThreshold: 0,
      chunkSize: 64 * 1024,
      resumeStore: null,
      retries: 2,
      retryDelay: 10,
      // 45 s on: each 60 s key is inside its renewal margin, still valid at storage.
      now: () => Date.now() + 45_000,
      fetch: async (input, init) => {
        if (init?.method === 'POST' && String(init.body).includes('"upload"')) {
          renewals++;
          throw new TypeError('fetch failed'); // the issuer does not answer
        }
        return fetch(input, init);
      },
    });
    const result = await client.upload(new Blob([data]), { name: 'outage.bin' });
    assert.equal(result.sha256, sha256(data));
    assert.ok(renewals >= 16, `renewal tried before each chunk (${renewals})`);
    assert.equal(result.grant.constraints.upload, undefined, 'done with the key it started with');
  });

  it('renews a key that expires mid-upload; renewals are counted; only the owner may renew', async (t) => {
    const system = await startSystem(t, {
      issuer: { rules: { ...OWNER_RULES, upload: { ...OWNER_RULES.upload, ttl: 1 } } },
      storageArgs: ['--clock-skew', '0s'],
    });
    const data = randomBytes(1024 * 1024);
    let patches = 0;
    const client = createClient({
      issuer: system.served.url,
      getToken: () => 'user:alice',
      resumableThreshold: 0,
      chunkSize: 64 * 1024,
      resumeStore: null,
      retryDelay: 10,
      // The client believes its keys are fresh: storage is the one that refuses them once expired.
      now: () => Date.now() - 3_600_000,
      fetch: async (input, init) => {
        if (init?.method === 'PATCH') {
          patches++;
          await new Promise((r) => setTimeout(r, 150));
        }
        return fetch(input, init);
      },
    });
    const result = await client.upload(new Blob([data]), { name: 'slow.bin' });
    assert.equal(result.sha256, sha256(data));
    const uploadId = result.upload as string;
    assert.equal(result.grant.constraints.upload, uploadId, 'the last key was a renewed one');
    const created = await system.issuer.records.getGrant(uploadId);
    assert.equal(created?.constraints.resumable, true);
    assert.ok(patches > 16, `${patches} chunks`);
    // Count the renewals in the records: grants bound to this upload.
    const renewal = await system.issuer
      .mint('alice', { op: 'put', upload: uploadId })
      .catch((e: ValetError) => e);
    assert.ok(
      renewal instanceof ValetError && renewal.code === 'upload_gone',
      'a finished upload is not renewed',
    );

    // Another upload of alice's, started but not finished: bob may not renew it.
    const started = await system.issuer.mint('alice', {
      op: 'put',
      name: 'half.bin',
      size: 10,
      resumable: true,
    });
    const upload = started.upload?.id as string;
    const bobs = await fetch(`${system.served.url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:bob', 'content-type': 'application/json' },
      body: JSON.stringify({ op: 'put', upload }),
    });
    assert.equal(bobs.status, 403);
    assert.equal(((await bobs.json()) as { error: { code: string } }).error.code, 'forbidden');
    // A renewal cannot widen: no new name, size or type.
    const widened = await system.issuer
      .mint('alice', { op: 'put', upload, size: 1000 } as never)
      .catch((e: ValetError) => e);
    assert.ok(widened instanceof ValetError && widened.code === 'bad_request');
    const first = await system.issuer.mint('alice', { op: 'put', upload });
    const second = await system.issuer.mint('alice', { op: 'put', upload });
    assert.equal(first.upload?.renewals, 1);
    assert.equal(second.upload?.renewals, 2);
    assert.equal(second.object, 'users/alice/half.bin');
    assert.equal(second.constraints.size, 10);
    assert.equal(second.constraints.upload, upload);
    // Revoking the upload's creating key stops renewals.
    await system.issuer.revokeKey(upload);
    const revoked = await system.issuer.mint('alice', { op: 'put', upload }).catch((e: ValetError) => e);
    assert.ok(revoked instanceof ValetError && revoked.code === 'token_revoked');
  });

  it('resumes through connections cut at random offsets and a storage restart', async (t) => {
    const proxy = await cuttingProxy(t);
    const system = await startSystem(t, {
      issuer: { storageUrl: proxy.url },
      onStorage: (storage) => {
        proxy.target = new URL(storage.url);
      },
    });
    const data = randomBytes(4 * 1024 * 1024);
    const client = createClient({
      issuer: system.served.url,
      getToken: () => 'user:alice',
      resumableThreshold: 0,
      chunkSize: 1024 * 1024,
      resumeStore: null,
      retries: 20,
      retryDelay: 20,
    });
    // The first connections to storage are cut after a random number of bytes.
    proxy.cuts = 4;
    const result = await client.upload(new Blob([data]), { name: 'cut.bin', sha256: true });
    assert.equal(result.sha256, sha256(data));
    assert.equal(proxy.cuts, 0, 'every planned cut happened');
    assert.ok(result.bytes.toStorage >= data.length);

    // Storage is stopped mid-upload and started again on the same port and data directory.
    const big = randomBytes(8 * 1024 * 1024);
    const slowClient = createClient({
      issuer: system.served.url,
      getToken: () => 'user:alice',
      resumableThreshold: 0,
      chunkSize: 256 * 1024,
      resumeStore: null,
      retries: 30,
      retryDelay: 100,
    });
    let restarted = false;
    const uploading = slowClient.upload(new Blob([big]), {
      name: 'restart.bin',
      onProgress: (p) => {
        if (!restarted && p.loaded > big.length / 3) {
          restarted = true;
          void restartStorage();
        }
      },
    });
    const restartStorage = async () => {
      const port = new URL(system.storage.url).port;
      await system.storage.stop('SIGKILL');
      system.storage = (await startValet(
        ['storage', ...storageArgsOf(system.storage.proc.spawnargs), '--port', port],
        /listening on (http:\/\/\S+)/,
        t,
      )) as unknown as typeof system.storage;
    };
    const done = await uploading;
    assert.ok(restarted);
    assert.equal(done.sha256, sha256(big));
  });

  it('the CLI shows progress, and a rerun after it was killed resumes the upload', async (t) => {
    // Storage behind a proxy that stops forwarding after 5 MiB: the first run hangs mid-upload.
    const proxy = await cuttingProxy(t);
    proxy.stallAfter = 5 * 1024 * 1024;
    const system = await startSystem(t, {
      issuer: { storageUrl: proxy.url },
      onStorage: (storage) => {
        proxy.target = new URL(storage.url);
      },
    });
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-resume-'));
    const file = path.join(dir, 'video.bin');
    const data = randomBytes(24 * 1024 * 1024);
    await writeFile(file, data);
    const env = { VALET_STATE_DIR: dir };
    const args = [
      'upload',
      file,
      '--issuer',
      system.served.url,
      '--token',
      'user:alice',
      '--chunk-size',
      '1MiB',
      '--json',
    ];
    // First run: killed once storage holds part of the upload.
    const running = startValetRaw(args, env);
    await eventually(async () => {
      const saved = await readFile(path.join(dir, 'uploads.json'), 'utf8').catch(() => '');
      return saved.includes('"url"') && proxy.stalled ? true : undefined;
    }, 20_000);
    running.kill('SIGKILL');
    proxy.stallAfter = Number.POSITIVE_INFINITY;
    // Second run: resumes from storage's offset and finishes.
    const again = startValetRaw(args, env);
    const { code, stdout, stderr } = await finished(again);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /resuming an earlier upload: [1-9][\d.]* MiB of 24 MiB already stored/);
    const printed = JSON.parse(stdout) as { key: string; sha256: string };
    assert.equal(printed.sha256, sha256(data));
    assert.equal(printed.key, 'users/alice/video.bin');
  });
});

function startValetRaw(args: string[], env: Record<string, string>): ChildProcess {
  const proc = spawn(process.execPath, [VALET_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  process.on('exit', () => proc.kill('SIGKILL'));
  return proc;
}

function finished(proc: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve) => proc.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** The `valet storage` arguments of a running process, without its port. */
function storageArgsOf(spawnargs: string[]): string[] {
  const args = spawnargs.slice(spawnargs.indexOf('storage') + 1);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--port') i++;
    else out.push(args[i] as string);
  }
  return out;
}

/**
 * A TCP proxy in front of storage. While `cuts` is above zero, each new connection is reset
 * after a random number of bytes from the client (and `cuts` goes down by one). Once it has
 * forwarded `stallAfter` bytes from clients in all, it forwards no more (`stalled` turns true).
 */
async function cuttingProxy(
  t: TestContext,
): Promise<{ url: string; target: URL; cuts: number; stallAfter: number; stalled: boolean }> {
  const state = {
    url: '',
    target: new URL('http://127.0.0.1:1'),
    cuts: 0,
    stallAfter: Number.POSITIVE_INFINITY,
    stalled: false,
  };
  let forwarded = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(state.target.port), state.target.hostname);
    let budget = state.cuts > 0 ? 2048 + Math.floor(Math.random() * 900 * 1024) : Number.POSITIVE_INFINITY;
    if (state.cuts > 0) state.cuts--;
    client.on('data', (chunk: Buffer) => {
      if (forwarded + chunk.length > state.stallAfter) {
        state.stalled = true;
        client.pause();
        return;
      }
      forwarded += chunk.length;
      budget -= chunk.length;
      if (budget < 0) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        return;
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return state;
}
