// End-to-end: no client without a key can take storage's descriptors (connection limits, in all
// and per address, and a header timeout), and a journal checkpoint that fails never ends the
// process. Storage runs as `valet storage` under a low descriptor limit (prlimit).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { type RunningStorage, startStorage } from '../helpers/storage.js';

/** A raw connection from `localAddress`, and what the server sent on it until it closed. */
interface Conn {
  socket: net.Socket;
  received(): string;
  closed: Promise<void>;
}

function connect(url: string, localAddress: string): Promise<Conn> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = net.connect({ port: Number(port), host: hostname, localAddress });
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.setEncoding('latin1').on('data', (d: string) => {
      data += d;
    });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An upload of `size` bytes with a fresh put key for `object`. */
async function keyedUpload(url: string, key: TestKey, object: string, size: number) {
  const token = await key.mint({ op: 'put', object });
  return request(url, { method: 'PUT', path: `/o/${object}?vk=${token}`, body: Buffer.alloc(size, 7) });
}

describe('storage under a flood of connections without a key', () => {
  let key: TestKey;
  let storage: RunningStorage;
  const open: Conn[] = [];

  before(async () => {
    key = await testKey();
    // 600 descriptors: the default limits keep most of them for storage itself.
    storage = await startStorage({
      jwksFile: (await keyFiles([key])).jwksFile,
      prefix: ['prlimit', '--nofile=600:600', '--'],
    });
  });
  after(async () => {
    for (const c of open) c.socket.destroy();
    await storage.stop();
  });

  const upload = (object: string, size: number) => keyedUpload(storage.url, key, object, size);
  const ready = async () => request(storage.url, { path: '/readyz' });

  it('refuses connections past its limits, in words, and keeps serving keyed uploads', async () => {
    const readiness = await ready();
    assert.equal(readiness.status, 200, readiness.body.toString());
    const connections = (readiness.json.checks as Record<string, { limit: number; perAddress: number }>)
      .connections as { limit: number; perAddress: number };
    // 600 descriptors, 444 kept for storage itself: two for each of 78 connections.
    assert.deepEqual(
      { limit: connections.limit, perAddress: connections.perAddress },
      { limit: 78, perAddress: 19 },
    );

    // One address takes its share; its next connection is answered 429 and closed.
    for (let i = 0; i < connections.perAddress; i++) open.push(await connect(storage.url, '127.0.0.2'));
    const extra = await connect(storage.url, '127.0.0.2');
    await extra.closed;
    assert.match(extra.received(), /^HTTP\/1\.1 429 /);
    assert.match(extra.received(), /retry-after: 1/i);
    assert.match(extra.received(), /"code":"too_many_connections"/);
    assert.match(extra.received(), /this address already has 19 connections open/);
    // Another client is still served.
    assert.equal((await upload('flood/a.bin', 1000)).status, 201);

    // Many addresses fill the total; the next connection, from anywhere, is answered 503.
    for (let i = 0; open.length < connections.limit; i++) {
      open.push(await connect(storage.url, `127.0.1.${1 + Math.floor(i / 10)}`));
    }
    await sleep(200);
    assert.ok(
      open.every((c) => c.received() === ''),
      'every connection within the limits was admitted',
    );
    const past = await connect(storage.url, '127.0.2.1');
    await past.closed;
    assert.match(past.received(), /^HTTP\/1\.1 503 /);
    assert.match(past.received(), /"code":"unavailable"/);
    assert.match(past.received(), /its limit of 78 connections/);

    // A flood well past the descriptor limit: every one is refused or cut, storage stays up.
    const flood: Conn[] = [];
    for (let i = 0; i < 700; i++) {
      flood.push(await connect(storage.url, `127.0.3.${1 + (i % 200)}`).catch(() => undefined as never));
    }
    await Promise.all(flood.filter(Boolean).map((c) => c.closed));
    assert.equal(storage.proc.exitCode, null, 'storage is still running');

    // The flood gone, a keyed small upload is stored (journaled), and its checkpoint runs.
    for (const c of open.splice(connections.perAddress)) c.socket.destroy();
    await sleep(100);
    assert.equal((await upload('flood/b.bin', 2000)).status, 201);
    await sleep(2_500);
    assert.equal(storage.proc.exitCode, null, 'storage is still running after the checkpoint');
    const after = await ready();
    assert.equal(after.status, 200, after.body.toString());
    assert.doesNotMatch(storage.logs(), /EMFILE/);
  });
});

describe('storage under keyed uploads that trickle their bodies', () => {
  it('admits them only up to its limit (two descriptors each), and checkpoints and serves beside them', async (t) => {
    const key = await testKey();
    const storage = await startStorage(
      { jwksFile: (await keyFiles([key])).jwksFile, prefix: ['prlimit', '--nofile=600:600', '--'] },
      t,
    );
    const limit = 78; // what 600 descriptors allow (see the flood test above)
    const { port, hostname } = new URL(storage.url);
    // Each declares 10 MiB (a file of its own, not memory: two descriptors) and sends a byte at a
    // time: slower than the minimum rate, which cuts them after its 30 s window; until then (and
    // for ever for bodies just above it) the connection limit is what keeps descriptors free.
    const trickles: net.Socket[] = [];
    t.after(() => {
      for (const s of trickles) s.destroy();
    });
    for (let i = 0; i < limit - 2; i++) {
      const token = await key.mint({ op: 'put', object: `trickle/${i}.bin` });
      const socket = net.connect({
        port: Number(port),
        host: hostname,
        localAddress: `127.0.4.${1 + (i % 200)}`,
      });
      socket.on('error', () => {});
      socket.write(
        `PUT /o/trickle/${i}.bin?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 * 2 ** 20}\r\n\r\nx`,
      );
      trickles.push(socket);
    }
    const drip = setInterval(() => {
      for (const s of trickles) s.write('x');
    }, 500);
    t.after(() => clearInterval(drip));
    await sleep(500);
    const token = await key.mint({ op: 'put', object: 'trickle/small.txt' });
    const small = await request(storage.url, {
      method: 'PUT',
      path: `/o/trickle/small.txt?vk=${token}`,
      body: 'hi',
    });
    assert.equal(small.status, 201, 'a keyed upload is served beside them');
    // Two more fill the limit; the next is refused.
    const last = [await connect(storage.url, '127.0.5.1'), await connect(storage.url, '127.0.5.2')];
    const past = await connect(storage.url, '127.0.5.3');
    await past.closed;
    assert.match(past.received(), /^HTTP\/1\.1 503 /, 'past the limit: 503');
    for (const c of last) c.socket.destroy();
    await sleep(100);
    await sleep(2_500); // the small upload's checkpoint
    const ready = await request(storage.url, { path: '/readyz' });
    assert.equal(
      (ready.json.checks as { journal: { status: string } }).journal.status,
      'ok',
      ready.body.toString(),
    );
    assert.equal(storage.proc.exitCode, null);
    assert.doesNotMatch(storage.logs(), /EMFILE|cannot checkpoint/);
  });
});

describe('storage connections that never send a request', () => {
  it('answers them 408 after the header timeout and closes them, freeing their place', async (t) => {
    const key = await testKey();
    const storage = await startStorage(
      {
        jwksFile: (await keyFiles([key])).jwksFile,
        args: ['--headers-timeout', '500ms', '--max-connections', '4', '--max-connections-per-address', '4'],
      },
      t,
    );
    const idle = await Promise.all([1, 2, 3, 4].map(() => connect(storage.url, '127.0.0.1')));
    const refused = await connect(storage.url, '127.0.0.1');
    await refused.closed;
    assert.match(refused.received(), /^HTTP\/1\.1 503 /);
    const started = Date.now();
    await Promise.all(idle.map((c) => c.closed));
    assert.ok(Date.now() - started < 5_000);
    for (const c of idle) {
      assert.match(c.received(), /^HTTP\/1\.1 408 /);
      assert.match(c.received(), /"code":"request_timeout"/);
    }
    await sleep(100);
    const res = await request(storage.url, { path: '/healthz' });
    assert.equal(res.status, 200);
    await storage.stop();
  });
});

describe('storage whose journal cannot checkpoint', () => {
  let key: TestKey;
  let storage: RunningStorage;
  let journalDir: string;
  const chattr = (flag: string) => {
    const result = spawnSync('chattr', [flag, journalDir], { encoding: 'utf8' });
    assert.equal(result.status, 0, `chattr ${flag} ${journalDir}: ${result.stderr} (needs root on ext4)`);
  };

  before(async () => {
    key = await testKey();
    storage = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile });
    journalDir = path.join(storage.dataDir, 'journal');
  });
  after(async () => {
    spawnSync('chattr', ['-i', journalDir]);
    await storage.stop();
  });

  const upload = (object: string, size: number) => keyedUpload(storage.url, key, object, size);
  const ready = () => request(storage.url, { path: '/readyz' });

  it('keeps running, says so in readiness, refuses small uploads with 503, and recovers', async () => {
    // The journal's folder made immutable: a checkpoint cannot create its next file (EPERM).
    chattr('+i');
    assert.equal((await upload('j/first.txt', 100)).status, 201);
    let readiness = await ready();
    for (let i = 0; i < 100 && readiness.status === 200; i++) {
      await sleep(100);
      readiness = await ready();
    }
    assert.equal(readiness.status, 503);
    assert.deepEqual(readiness.json.failing, ['journal']);
    assert.match(JSON.stringify(readiness.json.checks), /the journal cannot checkpoint: .*EPERM/);

    const small = await upload('j/small.txt', 100);
    assert.equal(small.status, 503);
    assert.equal(small.json.error?.code, 'unavailable');
    assert.match(small.json.error?.message ?? '', /journal|retry/);
    assert.equal((await upload('j/large.bin', 256 * 1024)).status, 201, 'a large upload is not journaled');
    await sleep(3_000);
    assert.equal(storage.proc.exitCode, null, 'storage is still running after failed checkpoints');
    assert.match(storage.logs(), /the journal cannot checkpoint/);

    chattr('-i');
    for (let i = 0; i < 150 && readiness.status !== 200; i++) {
      await sleep(100);
      readiness = await ready();
    }
    assert.equal(readiness.status, 200, readiness.body.toString());
    assert.equal((await upload('j/small.txt', 100)).status, 201);
    const token = await key.mint({ op: 'get', object: 'j/first.txt' });
    assert.equal((await request(storage.url, { path: `/o/j/first.txt?vk=${token}` })).status, 200);
  });
});
