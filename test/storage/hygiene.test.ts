// End-to-end: timeouts, limits, health, routing and graceful shutdown.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chunks, rawExchange, request } from '../helpers/http.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { type RunningStorage, startStorage, tmpFiles } from '../helpers/storage.js';

describe('HTTP hygiene', () => {
  let key: TestKey;
  let jwksFile: string;
  let storage: RunningStorage;

  before(async () => {
    key = await testKey();
    jwksFile = (await keyFiles([key])).jwksFile;
    storage = await startStorage({ jwksFile, args: ['--idle-timeout', '1s'] });
  });
  after(() => storage.stop());

  it('answers /healthz', async () => {
    const res = await request(storage.url, { path: '/healthz' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { status: 'ok' });
  });

  it('gives every response a request id that is in the log', async () => {
    const res = await request(storage.url, { path: '/o/x' });
    const id = String(res.headers['x-request-id']);
    assert.match(id, /^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 300));
    const line = storage
      .logs()
      .split('\n')
      .find((l) => l.includes(id));
    assert.ok(line, 'the request is logged');
    const entry = JSON.parse(line);
    assert.equal(entry.status, 401);
    assert.equal(entry.code, 'token_missing');
  });

  it('answers a complete request whose client half-closed after sending it (nc -N, some proxies)', async () => {
    const body = 'half-closed\n';
    const token = await key.mint({ op: 'put', object: 'half/once.txt', once: true });
    const put = await rawExchange(
      storage.url,
      `PUT /o/half/once.txt?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      { halfClose: true },
    );
    assert.match(put, /^HTTP\/1\.1 201 /, 'the single-use upload is answered, not only carried out');
    const again = await request(storage.url, { method: 'PUT', path: `/o/half/once.txt?vk=${token}`, body });
    assert.equal(again.json.error?.code, 'token_replayed');
    for (let i = 0; i < 20; i++) {
      const get = await key.mint({ op: 'get', object: 'half/once.txt' });
      const answer = await rawExchange(
        storage.url,
        `GET /o/half/once.txt?vk=${get} HTTP/1.1\r\nHost: x\r\n\r\n`,
        {
          halfClose: true,
        },
      );
      assert.match(answer, /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nhalf-closed\n$/, `GET ${i}`);
    }
  });

  it('answers unknown routes and methods with stable codes', async () => {
    const missing = await request(storage.url, { path: '/nothing/here' });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error?.code, 'not_found');
    const post = await request(storage.url, { method: 'PATCH', path: '/o/x', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.json.error?.code, 'method_not_allowed');
    assert.match(String(post.headers.allow), /PUT/);
    const absolute = await rawExchange(
      storage.url,
      'GET http://example.com/o/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.match(absolute, /^HTTP\/1\.1 400 /);
  });

  it('answers a HEAD the parser refuses without a body, and a GET with one', async () => {
    const malformed = (method: string) => `${method} /o/x HTTP/1.1\r\nHost: x\r\nBad header line\r\n\r\n`;
    const head = await rawExchange(storage.url, malformed('HEAD'));
    assert.match(head, /^HTTP\/1\.1 400 /);
    const [headers, body] = head.split('\r\n\r\n');
    assert.equal(body, '', 'no body after the header section');
    assert.match(String(headers), /content-length: [1-9]\d*/i, 'the length the body would have had');
    const get = await rawExchange(storage.url, malformed('GET'));
    assert.match(get, /\r\n\r\n\{"error":\{"code":"bad_request"/);
  });

  it('logs a request its client cut as cut, with the answer marked undelivered', async () => {
    const token = await key.mint({ op: 'put', object: 'cut/before-answer.bin', size: 1000 });
    await new Promise<void>((resolve, reject) => {
      const url = new URL(storage.url);
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(
          `PUT /o/cut/before-answer.bin?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${'a'.repeat(10)}`,
        );
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200);
      });
      socket.on('error', reject);
    });
    const entry = await waitForLog(storage, (e) => e.path === '/o/cut/before-answer.bin');
    assert.equal(entry.outcome, 'the client closed the connection mid-request');
    assert.equal(entry.delivered, false, 'the answer written after never reached anyone');
    assert.equal(entry.code, 'incomplete_body', 'what storage made of it');
  });

  it('answers 408 to a body that trickles in slower than the minimum rate, and keeps nothing', async (t) => {
    const slow = await startStorage({ jwksFile, args: ['--min-rate', '1000', '--min-rate-window', '1s'] }, t);
    const token = await key.mint({ op: 'put', object: 'slow/trickle.bin', size: 100 });
    // One byte every 200 ms: the connection is never idle, but 5 B/s is far below 1000 B/s.
    const res = await request(slow.url, {
      method: 'PUT',
      path: `/o/slow/trickle.bin?vk=${token}`,
      headers: { 'content-length': '100' },
      body: chunks(100, 1, 200),
    }).catch((error: Error) => error);
    assert.ok(
      !(res instanceof Error),
      `the refusal reached the client (${res instanceof Error ? res.message : ''})`,
    );
    assert.equal(res.status, 408);
    assert.equal(res.json.error?.code, 'request_timeout');
    assert.match(String(res.json.error?.message), /slower than the minimum rate/);
    for (let i = 0; i < 50 && (await tmpFiles(slow.dataDir)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await tmpFiles(slow.dataDir), [], 'no temp file left');
    // A body that keeps the rate goes through.
    const fast = await key.mint({ op: 'put', object: 'slow/fast.bin', size: 10_000 });
    const ok = await request(slow.url, {
      method: 'PUT',
      path: `/o/slow/fast.bin?vk=${fast}`,
      headers: { 'content-length': '10000' },
      body: chunks(10, 1000, 300),
    });
    assert.equal(ok.status, 201);
  });

  it('refuses an oversized header section with 431', async () => {
    const res = await rawExchange(
      storage.url,
      `GET /o/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.match(res, /^HTTP\/1\.1 431 /);
    assert.match(res, /"code":"headers_too_large"/);
  });

  it('refuses a malformed request with 400', async () => {
    const res = await rawExchange(storage.url, 'THIS IS NOT HTTP\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 400 /);
    assert.match(res, /"code":"bad_request"/);
  });

  it('cuts a stalled upload with 408 and keeps nothing', async () => {
    const token = await key.mint({ op: 'put', object: 'idle/stalled' });
    const started = Date.now();
    const answer = await rawExchange(
      storage.url,
      `PUT /o/idle/stalled?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(1000)}`,
    );
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"request_timeout"/);
    assert.ok(Date.now() - started < 10_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(await tmpFiles(storage.dataDir), []);
    const get = await key.mint({ op: 'get', object: 'idle/stalled' });
    assert.equal((await request(storage.url, { path: `/o/idle/stalled?vk=${get}` })).status, 404);
  });

  it('lets a slow but steady upload finish, however long it takes overall', async () => {
    const token = await key.mint({ op: 'put', object: 'idle/steady' });
    // 8 chunks 400 ms apart: 2.8 s in all, never idle for the 1 s timeout.
    const res = await request(storage.url, {
      method: 'PUT',
      path: `/o/idle/steady?vk=${token}`,
      body: chunks(8, 100, 400),
    });
    assert.equal(res.status, 201);
    assert.equal(res.json.size, 800);
  });

  it('closes idle keep-alive connections', async () => {
    const started = Date.now();
    const answer = await rawExchange(storage.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    // The server answered, then closed the idle connection by itself (rawExchange waits for the
    // close, and would give up only after 15 s).
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.ok(Date.now() - started < 10_000, 'the server closed the idle connection');
  });

  it('shuts down gracefully on SIGTERM: in-flight uploads finish, then it exits 0', async (t) => {
    const own = await startStorage({ jwksFile }, t);
    const token = await key.mint({ op: 'put', object: 'shutdown/a' });
    const upload = request(own.url, {
      method: 'PUT',
      path: `/o/shutdown/a?vk=${token}`,
      body: chunks(6, 1000, 250),
    });
    await new Promise((r) => setTimeout(r, 300));
    const exit = own.stop('SIGTERM');
    const res = await upload;
    assert.equal(res.status, 201);
    assert.equal(await exit, 0);
    await assert.rejects(request(own.url, { path: '/healthz' }), /ECONNREFUSED/);
    assert.deepEqual(await tmpFiles(own.dataDir), []);
    assert.match(own.logs(), /storage stopped/);
  });
});

describe('draining on SIGTERM', () => {
  it('cuts what is still in flight after --drain; a cut resumable upload resumes after the restart', async (t) => {
    const key = await testKey();
    const jwksFile = (await keyFiles([key])).jwksFile;
    const storage = await startStorage({ jwksFile, args: ['--drain', '1s'] }, t);
    const token = await key.mint({ op: 'put', object: 'drain/big.bin', resumable: true, maxSize: 2 ** 20 });
    const tus = { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` };
    const created = await request(storage.url, {
      method: 'POST',
      path: '/uploads',
      headers: { ...tus, 'upload-length': String(64 * 1000) },
    });
    assert.equal(created.status, 201);
    const target = new URL(String(created.headers.location), storage.url).pathname;
    // 64 chunks of 1,000 bytes, one every 100 ms: 6.4 s, far past the 1 s drain.
    const patch = request(storage.url, {
      method: 'PATCH',
      path: target,
      headers: {
        ...tus,
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'content-length': '64000',
      },
      body: chunks(64, 1000, 100),
    }).catch((error: Error) => error);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const started = Date.now();
    assert.equal(await storage.stop('SIGTERM'), 0, 'it exits cleanly');
    assert.ok(Date.now() - started < 5_000, `drained in ${Date.now() - started} ms`);
    await patch;
    assert.deepEqual(
      await readdir(path.join(storage.dataDir, 'journal')).catch(() => []),
      [],
      'journal checkpointed',
    );

    const again = await startStorage({ jwksFile, dataDir: storage.dataDir }, t);
    const head = await request(again.url, { method: 'HEAD', path: target, headers: tus });
    const offset = Number(head.headers['upload-offset']);
    assert.ok(offset > 0 && offset < 64000, `resumes from ${offset}`);
    const rest = await request(again.url, {
      method: 'PATCH',
      path: target,
      headers: { ...tus, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
      body: Buffer.alloc(64000 - offset, 0x61),
    });
    assert.equal(rest.status, 200, rest.body.toString());
    assert.equal(rest.json.size, 64000);
  });
});

/** The first JSON log line of `storage` that `match` accepts, waiting up to 5 s for it. */
async function waitForLog(
  storage: RunningStorage,
  match: (entry: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50; i++) {
    for (const line of storage.logs().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'request' && match(entry)) return entry;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail('no such log line');
}
