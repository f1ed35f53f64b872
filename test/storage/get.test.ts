// End-to-end: downloads stream with ranges and validators, and are served safely; deletes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { type RunningStorage, startStorage } from '../helpers/storage.js';

describe('storage downloads', () => {
  let key: TestKey;
  let storage: RunningStorage;
  // 200 KiB of varied bytes: bigger than what is read with the header, so it streams.
  const big = Buffer.from(Array.from({ length: 200 * 1024 }, (_, i) => (i * 7 + (i >> 8)) % 256));
  const upload = async (object: string, body: Buffer | string, contentType?: string) => {
    const token = await key.mint({ op: 'put', object });
    const headers = contentType ? { 'content-type': contentType } : {};
    const res = await request(storage.url, {
      method: 'PUT',
      path: `/o/${object}?vk=${token}`,
      body,
      headers,
    });
    assert.ok(res.status === 201 || res.status === 200, `upload ${object}: ${res.status}`);
    return res;
  };
  const get = async (
    object: string,
    headers: Record<string, string> = {},
    extra: Partial<Parameters<TestKey['mint']>[0]> = {},
  ) => {
    const token = await key.mint({ op: 'get', object, ...extra });
    return request(storage.url, { path: `/o/${object}?vk=${token}`, headers });
  };

  before(async () => {
    key = await testKey();
    storage = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile });
    await upload('dl/big.bin', big, 'application/octet-stream');
    await upload('dl/small.txt', '0123456789', 'text/plain');
    await upload('dl/empty', '', 'text/plain');
  });
  after(() => storage.stop());

  it('shows people a readable page, not JSON, when a link they open is refused', async () => {
    const expired = await key.mint({
      op: 'get',
      object: 'nothing/here',
      ttl: 1,
      now: () => Date.now() - 3_600_000,
    });
    const page = await request(storage.url, {
      path: `/o/nothing/here?vk=${expired}`,
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    assert.equal(page.status, 403);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    const html = page.body.toString();
    assert.match(html, /<h1>This link no longer works<\/h1>/);
    assert.match(html, /token_expired/);
    assert.ok(!html.includes(expired), 'the key is not echoed');
    const api = await request(storage.url, { path: `/o/nothing/here?vk=${expired}` });
    assert.equal(api.json.error?.code, 'token_expired', 'API clients still get JSON');
  });

  it('streams a whole object with its validators', async () => {
    const res = await get('dl/big.bin');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, big);
    assert.equal(res.headers['content-length'], String(big.length));
    assert.equal(res.headers.etag, `"${createHash('sha256').update(big).digest('hex')}"`);
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.ok(!Number.isNaN(Date.parse(String(res.headers['last-modified']))));
    assert.equal(res.headers['cache-control'], 'private, no-store');
  });

  it('serves single byte ranges, streamed or from the first read', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 0],
      ['bytes=0-99', 0, 99],
      [`bytes=${big.length - 1}-`, big.length - 1, big.length - 1],
      ['bytes=100000-', 100000, big.length - 1],
      ['bytes=-500', big.length - 500, big.length - 1],
      [`bytes=-${big.length + 10}`, 0, big.length - 1],
      [`bytes=70000-${big.length + 1000}`, 70000, big.length - 1],
      ['bytes=60000-70000', 60000, 70000],
    ];
    for (const [range, start, end] of cases) {
      const res = await get('dl/big.bin', { range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${big.length}`, range);
      assert.equal(res.headers['content-length'], String(end - start + 1), range);
      assert.deepEqual(res.body, big.subarray(start, end + 1), range);
    }
  });

  it('answers 416 invalid_range for unsatisfiable ranges', async () => {
    for (const [object, range, size] of [
      ['dl/small.txt', 'bytes=10-', 10],
      ['dl/small.txt', 'bytes=10-20', 10],
      ['dl/small.txt', 'bytes=-0', 10],
      ['dl/empty', 'bytes=0-', 0],
      ['dl/empty', 'bytes=0-0', 0],
    ] as const) {
      const res = await get(object, { range });
      assert.equal(res.status, 416, `${object} ${range}`);
      assert.equal(res.json.error?.code, 'invalid_range');
      assert.equal(res.headers['content-range'], `bytes */${size}`);
    }
    // RFC 9110 §14.1.1: of an empty object, a non-zero suffix range is satisfiable (the whole, empty, object).
    const suffix = await get('dl/empty', { range: 'bytes=-1' });
    assert.equal(suffix.status, 200);
    assert.equal(suffix.body.length, 0);
  });

  it('ignores multi-range, malformed and non-byte ranges and serves the whole object', async () => {
    for (const range of ['bytes=0-1,3-4', 'bytes=5-2', 'bytes=x-y', 'items=0-1', 'bytes=']) {
      const res = await get('dl/small.txt', { range });
      assert.equal(res.status, 200, range);
      assert.equal(res.body.toString(), '0123456789');
    }
  });

  it('honours If-Range: a stale validator gets the whole object', async () => {
    const { headers } = await get('dl/small.txt');
    const fresh = await get('dl/small.txt', { range: 'bytes=2-3', 'if-range': String(headers.etag) });
    assert.equal(fresh.status, 206);
    assert.equal(fresh.body.toString(), '23');
    const stale = await get('dl/small.txt', { range: 'bytes=2-3', 'if-range': '"0000"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.toString(), '0123456789');
  });

  it('answers 304 to If-None-Match and If-Modified-Since', async () => {
    const { headers } = await get('dl/small.txt');
    const etag = String(headers.etag);
    assert.equal((await get('dl/small.txt', { 'if-none-match': etag })).status, 304);
    assert.equal((await get('dl/small.txt', { 'if-none-match': `"x", W/${etag}` })).status, 304);
    assert.equal((await get('dl/small.txt', { 'if-none-match': '*' })).status, 304);
    assert.equal((await get('dl/small.txt', { 'if-none-match': '"other"' })).status, 200);
    const lastModified = String(headers['last-modified']);
    assert.equal((await get('dl/small.txt', { 'if-modified-since': lastModified })).status, 304);
    const before = new Date(Date.parse(lastModified) - 10_000).toUTCString();
    assert.equal((await get('dl/small.txt', { 'if-modified-since': before })).status, 200);
    // Only HTTP-dates count: an ISO 8601 date is ignored (RFC 9110 §13.1.3), so is it in If-Range.
    const iso = new Date(Date.parse(lastModified) + 10_000).toISOString();
    assert.equal((await get('dl/small.txt', { 'if-modified-since': iso })).status, 200);
    const isoRange = await get('dl/small.txt', {
      range: 'bytes=2-3',
      'if-range': new Date(lastModified).toISOString(),
    });
    assert.equal(isoRange.status, 200, 'an If-Range that is no HTTP-date is false: the whole object');
    // The obsolete forms are HTTP-dates too.
    const date = new Date(Date.parse(lastModified));
    const asctime = `${date.toUTCString().slice(0, 3)} ${date.toUTCString().slice(8, 11)} ${String(date.getUTCDate()).padStart(2, ' ')} ${date.toISOString().slice(11, 19)} ${date.getUTCFullYear()}`;
    assert.equal((await get('dl/small.txt', { 'if-modified-since': asctime })).status, 304, asctime);
  });

  it('evaluates If-Match and If-Unmodified-Since on GET and HEAD (412), before If-None-Match', async () => {
    const { headers } = await get('dl/small.txt');
    const etag = String(headers.etag);
    const lastModified = String(headers['last-modified']);
    assert.equal((await get('dl/small.txt', { 'if-match': etag })).status, 200);
    assert.equal((await get('dl/small.txt', { 'if-match': '*' })).status, 200);
    const mismatch = await get('dl/small.txt', { 'if-match': '"other"' });
    assert.equal(mismatch.status, 412);
    assert.equal(mismatch.json.error?.code, 'precondition_failed');
    assert.equal((await get('dl/small.txt', { 'if-match': `W/${etag}` })).status, 412, 'strong comparison');
    const earlier = new Date(Date.parse(lastModified) - 10_000).toUTCString();
    assert.equal((await get('dl/small.txt', { 'if-unmodified-since': earlier })).status, 412);
    assert.equal((await get('dl/small.txt', { 'if-unmodified-since': lastModified })).status, 200);
    // If-Match wins over If-Unmodified-Since, and a failed If-Match wins over If-None-Match.
    assert.equal(
      (await get('dl/small.txt', { 'if-match': etag, 'if-unmodified-since': earlier })).status,
      200,
    );
    assert.equal((await get('dl/small.txt', { 'if-match': '"other"', 'if-none-match': etag })).status, 412);
    const token = await key.mint({ op: 'head', object: 'dl/small.txt' });
    const head = await request(storage.url, {
      method: 'HEAD',
      path: `/o/dl/small.txt?vk=${token}`,
      headers: { 'if-match': '"other"' },
    });
    assert.equal(head.status, 412);
  });

  it('answers HEAD with the headers and no body', async () => {
    const token = await key.mint({ op: 'head', object: 'dl/big.bin' });
    const res = await request(storage.url, { method: 'HEAD', path: `/o/dl/big.bin?vk=${token}` });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(big.length));
    assert.equal(res.body.length, 0);
  });

  it('serves an uploaded text/html as a sandboxed download, never as a page', async () => {
    await upload('dl/page.html', '<script>alert(document.cookie)</script>', 'text/html');
    const res = await get('dl/page.html');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="page.html"');
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /(^|; )sandbox(;|$)/);
    assert.match(csp, /default-src 'none'/);
    assert.equal(res.headers['cache-control'], 'private, no-store');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    // Even a key that asks for inline keeps the sandbox.
    const inline = await get('dl/page.html', {}, { inline: true });
    assert.equal(inline.headers['content-disposition'], 'inline; filename="page.html"');
    assert.match(String(inline.headers['content-security-policy']), /sandbox/);
  });

  it('serves SVG as a download and raster images, video and PDF inline', async () => {
    await upload(
      'dl/logo.svg',
      '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
      'image/svg+xml',
    );
    await upload('dl/cat.png', 'png', 'image/png');
    await upload('dl/clip.mp4', 'mp4', 'video/mp4');
    await upload('dl/doc.pdf', 'pdf', 'application/pdf');
    assert.match(String((await get('dl/logo.svg')).headers['content-disposition']), /^attachment;/);
    for (const object of ['dl/cat.png', 'dl/clip.mp4', 'dl/doc.pdf']) {
      assert.match(String((await get(object)).headers['content-disposition']), /^inline;/, object);
    }
    const forced = await get('dl/cat.png', {}, { inline: false });
    assert.match(String(forced.headers['content-disposition']), /^attachment;/);
  });

  it('uses the key’s file name, encoded per RFC 6266 and RFC 5987', async () => {
    const res = await get('dl/small.txt', {}, { filename: 'Rapport été "final".txt' });
    assert.equal(
      res.headers['content-disposition'],
      `attachment; filename="Rapport _t_ _final_.txt"; filename*=UTF-8''Rapport%20%C3%A9t%C3%A9%20%22final%22.txt`,
    );
  });

  it('answers 404 not_found for a missing object', async () => {
    const res = await get('dl/missing');
    assert.equal(res.status, 404);
    assert.equal(res.json.error?.code, 'not_found');
  });

  it('deletes with a delete key only', async () => {
    await upload('dl/doomed', 'bye');
    const getKey = await key.mint({ op: 'get', object: 'dl/doomed' });
    const wrong = await request(storage.url, { method: 'DELETE', path: `/o/dl/doomed?vk=${getKey}` });
    assert.equal(wrong.json.error?.code, 'scope_mismatch');
    const token = await key.mint({ op: 'delete', object: 'dl/doomed' });
    const res = await request(storage.url, { method: 'DELETE', path: `/o/dl/doomed?vk=${token}` });
    assert.equal(res.status, 204);
    assert.equal((await get('dl/doomed')).status, 404);
    const again = await request(storage.url, { method: 'DELETE', path: `/o/dl/doomed?vk=${token}` });
    assert.equal(again.status, 404);
    assert.equal(again.json.error?.code, 'not_found');
  });

  it('releases everything when clients go away mid-download', async () => {
    await upload('dl/abandoned', Buffer.alloc(16 * 1024 * 1024, 0x63));
    const fds = async () => (await readdir(`/proc/${storage.proc.pid}/fd`)).length;
    const before = await fds();
    const http = await import('node:http');
    const url = new URL(storage.url);
    for (let i = 0; i < 20; i++) {
      const token = await key.mint({ op: 'get', object: 'dl/abandoned' });
      await new Promise<void>((resolve) => {
        const req = http.get(
          { host: url.hostname, port: url.port, path: `/o/dl/abandoned?vk=${token}`, agent: false },
          (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', () => resolve());
      });
    }
    // Each download notices the closed connection, stops reading and closes its file.
    let after = await fds();
    for (let i = 0; i < 40 && after > before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await fds();
    }
    assert.ok(after <= before, `open descriptors grew from ${before} to ${after}`);
    const whole = await get('dl/abandoned');
    assert.equal(whole.body.length, 16 * 1024 * 1024);
  });

  it('keeps serving the version a download started with when the object is replaced', async () => {
    const size = 8 * 1024 * 1024;
    await upload('dl/moving', Buffer.alloc(size, 0x61));
    const token = await key.mint({ op: 'get', object: 'dl/moving' });
    const http = await import('node:http');
    const url = new URL(storage.url);
    const body = await new Promise<Buffer>((resolve, reject) => {
      http
        .get({ host: url.hostname, port: url.port, path: `/o/dl/moving?vk=${token}` }, (res) => {
          const parts: Buffer[] = [];
          res.once('data', (first: Buffer) => {
            parts.push(first);
            res.pause();
            // Replace and then delete the object while the download is paused.
            void (async () => {
              await upload('dl/moving', Buffer.alloc(size, 0x62));
              const del = await key.mint({ op: 'delete', object: 'dl/moving' });
              await request(storage.url, { method: 'DELETE', path: `/o/dl/moving?vk=${del}` });
              res.on('data', (c: Buffer) => parts.push(c));
              res.on('end', () => resolve(Buffer.concat(parts)));
              res.resume();
            })().catch(reject);
          });
        })
        .on('error', reject);
    });
    assert.equal(body.length, size);
    assert.ok(body.every((b) => b === 0x61));
  });
});

describe('storage downloads to slow clients', () => {
  it('cuts a download the client takes slower than the minimum rate, and serves one that keeps up', async (t) => {
    const key = await testKey();
    const storage = await startStorage(
      {
        jwksFile: (await keyFiles([key])).jwksFile,
        args: ['--min-rate', '64KiB', '--min-rate-window', '1s', '--download-buffers', '0'],
      },
      t,
    );
    const body = Buffer.alloc(32 * 1024 * 1024, 5);
    const put = await key.mint({ op: 'put', object: 'slow/big.bin' });
    assert.equal(
      (await request(storage.url, { method: 'PUT', path: `/o/slow/big.bin?vk=${put}`, body })).status,
      201,
    );
    const get = await key.mint({ op: 'get', object: 'slow/big.bin', ttl: 600 });
    const url = new URL(storage.url);

    // 16 KiB every half second: 32 KiB/s, half the minimum.
    const started = Date.now();
    const received = await new Promise<number>((resolve) => {
      const socket = net.connect(Number(url.port), url.hostname, () =>
        socket.write(`GET /o/slow/big.bin?vk=${get} HTTP/1.1\r\nHost: x\r\n\r\n`),
      );
      let total = 0;
      socket.pause();
      const timer = setInterval(() => {
        const chunk = socket.read(16 * 1024) as Buffer | null;
        total += chunk?.length ?? 0;
      }, 500);
      socket.on('close', () => {
        clearInterval(timer);
        resolve(total);
      });
      socket.on('error', () => {});
    });
    assert.ok(received < body.length, `cut after ${received} bytes`);
    assert.ok(Date.now() - started < 60_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const line = storage
      .logs()
      .split('\n')
      .find((l) => l.includes('"path":"/o/slow/big.bin"') && l.includes('request_timeout'));
    assert.ok(line, 'the cut is logged with its code');

    const whole = await request(storage.url, { path: `/o/slow/big.bin?vk=${get}` });
    assert.equal(whole.status, 200);
    assert.equal(whole.body.length, body.length, 'a client that keeps up gets it all');
  });
});
