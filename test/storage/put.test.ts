// End-to-end: uploads are streamed, checked against the key's limits while they stream, and
// committed only when complete and valid. A refused upload leaves nothing behind.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { chunks, rawExchange, request } from '../helpers/http.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { type RunningStorage, startStorage, tmpFiles } from '../helpers/storage.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('storage uploads', () => {
  let key: TestKey;
  let storage: RunningStorage;
  const put = (object: string, token: string, body: Buffer | string | AsyncIterable<Buffer>, headers = {}) =>
    request(storage.url, { method: 'PUT', path: `/o/${object}?vk=${token}`, body, headers });
  const read = async (object: string) => {
    const token = await key.mint({ op: 'get', object });
    return request(storage.url, { path: `/o/${object}?vk=${token}` });
  };
  const assertAbsent = async (object: string) => {
    assert.equal((await read(object)).status, 404, `${object} should not exist`);
  };
  const assertNoTemp = async () => {
    // Cleanup runs as the request ends; give it a moment before looking.
    for (let i = 0; i < 20 && (await tmpFiles(storage.dataDir)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await tmpFiles(storage.dataDir), []);
  };

  before(async () => {
    key = await testKey();
    storage = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile });
  });
  after(() => storage.stop());

  it('stores a body with its size, type, SHA-256 and ETag', async () => {
    const body = Buffer.from('a small text\n');
    const res = await put('up/meta.txt', await key.mint({ op: 'put', object: 'up/meta.txt' }), body, {
      'content-type': 'text/plain; charset=utf-8',
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.location, '/o/up/meta.txt');
    assert.equal(res.headers.etag, `"${sha256(body)}"`);
    assert.deepEqual(
      { ...res.json, last_modified: undefined },
      {
        object: 'up/meta.txt',
        size: body.length,
        content_type: 'text/plain; charset=utf-8',
        sha256: sha256(body),
        etag: `"${sha256(body)}"`,
        last_modified: undefined,
      },
    );
    const got = await read('up/meta.txt');
    assert.deepEqual(got.body, body);
    assert.equal(got.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(got.headers.etag, res.headers.etag);
    // Overwriting answers 200, not 201.
    const again = await put('up/meta.txt', await key.mint({ op: 'put', object: 'up/meta.txt' }), 'v2');
    assert.equal(again.status, 200);
  });

  it('refuses a declared Content-Length over the maximum before reading the body', async () => {
    const token = await key.mint({ op: 'put', object: 'up/big1', maxSize: 1000 });
    const res = await put('up/big1', token, chunks(100, 1000, 5), { 'content-length': '100000' });
    assert.equal(res.status, 413);
    assert.equal(res.json.error?.code, 'entity_too_large');
    await assertAbsent('up/big1');
    await assertNoTemp();
  });

  it('cuts a chunked body at the first byte past the maximum', async () => {
    const token = await key.mint({ op: 'put', object: 'up/big2', maxSize: 10_000 });
    // No Content-Length: Node sends Transfer-Encoding: chunked.
    const res = await put('up/big2', token, chunks(1000, 1024, 2));
    assert.equal(res.status, 413);
    assert.equal(res.json.error?.code, 'entity_too_large');
    await assertAbsent('up/big2');
    await assertNoTemp();
  });

  it('accepts a chunked body of exactly the maximum', async () => {
    const token = await key.mint({ op: 'put', object: 'up/exact-max', maxSize: 10 * 1024 });
    const res = await put('up/exact-max', token, chunks(10, 1024));
    assert.equal(res.status, 201);
    assert.equal(res.json.size, 10 * 1024);
  });

  it('enforces the minimum and the exact size', async () => {
    const small = await put('up/min', await key.mint({ op: 'put', object: 'up/min', minSize: 10 }), 'short');
    assert.equal(small.status, 400);
    assert.equal(small.json.error?.code, 'entity_too_small');
    const chunkedSmall = await put(
      'up/min',
      await key.mint({ op: 'put', object: 'up/min', minSize: 10 }),
      chunks(1, 5),
    );
    assert.equal(chunkedSmall.json.error?.code, 'entity_too_small');
    const over = await put(
      'up/size',
      await key.mint({ op: 'put', object: 'up/size', size: 4 }),
      chunks(1, 5),
    );
    assert.equal(over.json.error?.code, 'entity_too_large');
    const under = await put('up/size', await key.mint({ op: 'put', object: 'up/size', size: 4 }), 'abc');
    assert.equal(under.json.error?.code, 'entity_too_small');
    await assertAbsent('up/min');
    await assertAbsent('up/size');
    const exact = await put('up/size', await key.mint({ op: 'put', object: 'up/size', size: 4 }), 'abcd');
    assert.equal(exact.status, 201);
    await assertNoTemp();
  });

  it('answers 400 incomplete_body when the body is shorter than its Content-Length', async () => {
    const token = await key.mint({ op: 'put', object: 'up/short' });
    const head = `PUT /o/up/short?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`;
    const answer = await rawExchange(storage.url, `${head}${'a'.repeat(400)}`, { halfClose: true });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"code":"incomplete_body"/);
    await assertAbsent('up/short');
    await assertNoTemp();
  });

  it('discards an upload whose client disconnects mid-body', async () => {
    const token = await key.mint({ op: 'put', object: 'up/dropped' });
    const url = new URL(storage.url);
    const net = await import('node:net');
    await new Promise<void>((resolve) => {
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(`PUT /o/up/dropped?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`);
        socket.write(Buffer.alloc(50_000));
        setTimeout(() => {
          socket.resetAndDestroy();
          resolve();
        }, 100);
      });
    });
    await assertNoTemp();
    await assertAbsent('up/dropped');
  });

  it('refuses a content type outside the allowed ones before storing any byte', async () => {
    const token = await key.mint({
      op: 'put',
      object: 'up/typed',
      contentTypes: ['image/*', 'application/pdf'],
    });
    for (const type of ['text/html', 'image', 'imagex/png', 'application/pdfx', undefined]) {
      const headers = type ? { 'content-type': type } : {};
      const res = await put('up/typed', token, chunks(50, 1024, 2), {
        ...headers,
        'content-length': '51200',
      });
      assert.equal(res.status, type === 'image' ? 400 : 415, String(type));
      assert.equal(res.json.error?.code, type === 'image' ? 'bad_request' : 'unsupported_media_type');
    }
    await assertAbsent('up/typed');
    await assertNoTemp();
    const ok = await put('up/typed', token, 'png bytes', { 'content-type': 'image/png' });
    assert.equal(ok.status, 201);
    const pdf = await put('up/typed', token, 'pdf', { 'content-type': 'Application/PDF; x=y' });
    assert.equal(pdf.status, 200);
  });

  it("refuses up front a key whose object, subject and type would not fit the object's metadata", async () => {
    // Every part at its limit, of characters JSON escapes: 1024 bytes of key, 256 characters of
    // subject, 255 of content type. Valid claims, too much metadata: 400 before any byte is read.
    const segment = '"'.repeat(255);
    const object = [segment, segment, segment, '"'.repeat(253)].join('/');
    const token = await key.mint({ op: 'put', object, subject: '\u0001'.repeat(256) });
    const type = `text/plain; x="${'\\'.repeat(230)}"`;
    const path = `/o/${object.split('/').map(encodeURIComponent).join('/')}?vk=${token}`;
    const res = await request(storage.url, {
      method: 'PUT',
      path,
      headers: { 'content-type': type, 'content-length': '5', expect: '100-continue' },
      body: 'hello',
    });
    assert.equal(res.status, 400);
    assert.equal(res.json.error?.code, 'bad_request');
    assert.match(String(res.json.error?.message), /exceed the 4 KiB/);
    // The same at ordinary sizes is taken.
    const fine = await key.mint({ op: 'put', object: 'meta/fine.txt', subject: '\u0001'.repeat(256) });
    assert.equal((await put('meta/fine.txt', fine, 'hello', { 'content-type': type })).status, 201);
  });

  it('answers a refusal made before the body with its code, however much body the client sends', async () => {
    // Storage refuses on the headers, then reads the rest and throws it away (a lingering close):
    // closing with unread bytes would reset the connection, and the client would see EPIPE.
    const token = await key.mint({ op: 'put', object: 'up/linger', contentTypes: ['image/png'] });
    const body = Buffer.alloc(2 * 1024 * 1024, 1);
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${storage.url}/o/up/linger?vk=${token}`, {
        method: 'PUT',
        headers: { 'content-type': 'text/html' },
        body,
      });
      assert.equal(res.status, 415);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unsupported_media_type');
    }
    // A client that asked to close after this request (curl with -H 'Connection: close', Node
    // without an agent) is lingered on too: Node would otherwise close as soon as the answer is
    // written, and the client, still sending, would see EPIPE or ECONNRESET instead of the 415.
    for (let i = 0; i < 10; i++) {
      const res = await put('up/linger', token, Buffer.alloc(6 * 1024 * 1024, 1), {
        'content-type': 'text/html',
        connection: 'close',
      });
      assert.equal(res.status, 415);
      assert.equal(res.json.error?.code, 'unsupported_media_type');
    }
    await assertAbsent('up/linger');
  });

  it('refuses a body whose SHA-256 differs from the bound digest, keeping the earlier version', async () => {
    const v1 = Buffer.from('version one');
    assert.equal(
      (await put('up/digest', await key.mint({ op: 'put', object: 'up/digest' }), v1)).status,
      201,
    );
    const expected = sha256('the right body');
    const token = await key.mint({ op: 'put', object: 'up/digest', sha256: expected });
    const res = await put('up/digest', token, 'the wrong body');
    assert.equal(res.status, 400);
    assert.equal(res.json.error?.code, 'bad_digest');
    assert.deepEqual((await read('up/digest')).body, v1, 'the earlier version is intact');
    await assertNoTemp();
    const good = await put('up/digest', token, 'the right body');
    assert.equal(good.status, 200);
    assert.equal(good.json.sha256, expected);
  });

  it('refuses a create-only key when the object exists', async () => {
    const token = await key.mint({ op: 'put', object: 'up/once-only', noOverwrite: true });
    assert.equal((await put('up/once-only', token, 'first')).status, 201);
    const again = await put(
      'up/once-only',
      await key.mint({ op: 'put', object: 'up/once-only', noOverwrite: true }),
      'second',
    );
    assert.equal(again.status, 412);
    assert.equal(again.json.error?.code, 'precondition_failed');
    assert.equal((await read('up/once-only')).body.toString(), 'first');
  });

  it('lets exactly one of several racing create-only uploads win', async () => {
    for (let round = 0; round < 3; round++) {
      const object = `up/race-${round}`;
      const racers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          key.mint({ op: 'put', object, noOverwrite: true, subject: `racer-${i}` }),
        ),
      );
      // Every racer passes the existence check before any commits: the bodies arrive slowly.
      const results = await Promise.all(
        racers.map((token, i) => put(object, token, chunks(5, 1000, 20, 0x30 + i))),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [201, 412, 412, 412, 412, 412], `round ${round}`);
      const winner = results.findIndex((r) => r.status === 201);
      const body = (await read(object)).body;
      assert.deepEqual(body, Buffer.alloc(5000, 0x30 + winner), 'the stored body is the winner’s, whole');
    }
    await assertNoTemp();
  });

  it('refuses a bad upload after Expect: 100-continue without receiving the body', async () => {
    const token = await key.mint({ op: 'put', object: 'up/expect', maxSize: 10 });
    const head = `PUT /o/up/expect?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n`;
    const answer = await rawExchange(storage.url, head);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.doesNotMatch(answer, /100 Continue/);
    const ok = await key.mint({ op: 'put', object: 'up/expect', maxSize: 10 });
    const accepted = await put('up/expect', ok, 'tiny', { expect: '100-continue' });
    assert.equal(accepted.status, 201);
  });

  it('keeps serving, and keeps every upload whole, while many clients drop mid-upload', async () => {
    const net = await import('node:net');
    const url = new URL(storage.url);
    const drop = async (i: number) => {
      const token = await key.mint({ op: 'put', object: `up/drop-${i}` });
      await new Promise<void>((resolve) => {
        const socket = net.connect(Number(url.port), url.hostname, () => {
          socket.write(
            `PUT /o/up/drop-${i}?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n`,
          );
          socket.write(Buffer.alloc(300_000 + i * 1000));
          setTimeout(
            () => {
              socket.resetAndDestroy();
              resolve();
            },
            20 + (i % 7) * 10,
          );
        });
        socket.on('error', () => resolve());
      });
    };
    const keep = async (i: number) => {
      const token = await key.mint({ op: 'put', object: `up/keep-${i}` });
      const res = await put(`up/keep-${i}`, token, chunks(8, 64 * 1024, 5, i % 256));
      assert.ok(res.status === 201 || res.status === 200, `keep-${i}: ${res.status}`);
    };
    // Small uploads in a tight loop open a file every few milliseconds: if a dropped upload closed
    // its file descriptor twice, the second close would hit one of theirs.
    let stop = false;
    const failures: string[] = [];
    const churn = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const object = `up/churn-${w}`;
        const res = await put(object, await key.mint({ op: 'put', object }), Buffer.alloc(4096, n % 256));
        if (res.status !== 200 && res.status !== 201) failures.push(`${object}: ${res.status} ${res.body}`);
      }
    };
    const churning = Promise.all(Array.from({ length: 12 }, (_, w) => churn(w)));
    for (let round = 0; round < 4; round++) {
      await Promise.all([
        ...Array.from({ length: 24 }, (_, i) => drop(i)),
        ...Array.from({ length: 24 }, (_, i) => keep(i)),
      ]);
    }
    stop = true;
    await churning;
    assert.deepEqual(failures, []);
    assert.equal((await request(storage.url, { path: '/healthz' })).status, 200);
    for (let i = 0; i < 24; i++) {
      const body = (await read(`up/keep-${i}`)).body;
      assert.equal(body.length, 8 * 64 * 1024);
      assert.ok(
        body.every((b) => b === i % 256),
        `keep-${i} is whole`,
      );
    }
    await assertNoTemp();
  });

  it('never lets a reader see a partial object while it is being replaced', async () => {
    const size = 4 * 1024 * 1024;
    const a = Buffer.alloc(size, 0x41);
    assert.equal((await put('up/swap', await key.mint({ op: 'put', object: 'up/swap' }), a)).status, 201);
    const writer = (async () => {
      for (let i = 0; i < 4; i++) {
        const fill = i % 2 === 0 ? 0x42 : 0x41;
        const res = await put(
          'up/swap',
          await key.mint({ op: 'put', object: 'up/swap' }),
          chunks(64, 64 * 1024, 0, fill),
        );
        assert.equal(res.status, 200);
      }
    })();
    const reads: Buffer[] = [];
    const reader = (async () => {
      for (let i = 0; i < 12; i++) reads.push((await read('up/swap')).body);
    })();
    await Promise.all([writer, reader]);
    for (const body of reads) {
      assert.equal(body.length, size);
      const first = body[0];
      assert.ok(
        body.every((b) => b === first),
        'a read mixed two versions',
      );
    }
  });
});
