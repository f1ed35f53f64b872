// End-to-end: Valet storage speaks tus 1.0 (through @tus/server) for resumable uploads, with
// narrow keys: one upload per creating key, later requests only with a key bound to that upload.
// Uploads survive cut connections and storage crashes, and become objects atomically.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tus from 'tus-js-client';
import { request } from '../helpers/http.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { freePort, type RunningStorage, startStorage } from '../helpers/storage.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const TUS = { 'tus-resumable': '1.0.0' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('storage resumable uploads (tus)', () => {
  let key: TestKey;
  let other: TestKey;
  let jwksFile: string;
  let storage: RunningStorage;

  const tusRequest = (
    method: string,
    target: string,
    token: string | undefined,
    headers: Record<string, string> = {},
    body?: Buffer,
  ) =>
    request(storage.url, {
      method,
      path: target,
      headers: {
        ...TUS,
        ...(token !== undefined && { authorization: `Bearer ${token}` }),
        ...(body !== undefined && {
          'content-type': 'application/offset+octet-stream',
          'content-length': String(body.length),
        }),
        ...headers,
      },
      ...(body !== undefined && { body }),
    });
  /** Creates an upload with a fresh resumable key; returns its path and the key. */
  const create = async (object: string, size: number, mint: Record<string, unknown> = {}, type?: string) => {
    const token = await key.mint({ op: 'put', object, resumable: true, ...mint });
    const res = await tusRequest('POST', '/uploads', token, {
      'upload-length': String(size),
      ...(type !== undefined && { 'upload-metadata': `filetype ${b64(type)}` }),
    });
    assert.equal(res.status, 201, res.body.toString());
    const location = new URL(String(res.headers.location));
    return { token, path: location.pathname, id: location.pathname.split('/').pop() as string };
  };
  const patch = (target: string, token: string, offset: number, body: Buffer) =>
    tusRequest('PATCH', target, token, { 'upload-offset': String(offset) }, body);
  const offsetOf = async (target: string, token: string) => {
    const res = await tusRequest('HEAD', target, token);
    assert.equal(res.status, 200);
    return Number(res.headers['upload-offset']);
  };
  const read = async (object: string) => {
    const token = await key.mint({ op: 'get', object });
    return request(storage.url, { path: `/o/${object}?vk=${token}` });
  };
  const uploadFiles = async () => readdir(path.join(storage.dataDir, 'uploads'));

  before(async () => {
    key = await testKey();
    other = await testKey();
    jwksFile = (await keyFiles([key, other])).jwksFile;
    storage = await startStorage({ jwksFile });
  });
  after(() => storage.stop());

  it('takes an upload from tus-js-client with a valet key, in chunks, as one object', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const token = await key.mint({ op: 'put', object: 'tus/client.bin', resumable: true, maxSize: 8 << 20 });
    let progressed = 0;
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(data, {
        endpoint: `${storage.url}/uploads`,
        headers: { authorization: `Bearer ${token}` },
        chunkSize: 1024 * 1024,
        metadata: { filetype: 'application/octet-stream', filename: 'client.bin' },
        retryDelays: [],
        onProgress: (sent) => {
          progressed = sent;
        },
        onError: reject,
        onSuccess: () => resolve(),
      });
      upload.start();
    });
    assert.equal(progressed, data.length);
    const got = await read('tus/client.bin');
    assert.equal(got.status, 200);
    assert.equal(sha256(got.body), sha256(data));
    assert.equal(got.headers.etag, `"${sha256(data)}"`);
    // The log counts each chunk's bytes, and never holds the key.
    assert.match(
      storage.logs(),
      /"method":"PATCH","path":"\/uploads\/[\w-]+","status":20\d,.*"bytesIn":1048576/,
    );
    assert.ok(!storage.logs().includes(token), 'the valet key never appears in the log');
  });

  it('creates one upload per key, within the key limits, and only with a resumable key', async () => {
    const plain = await key.mint({ op: 'put', object: 'tus/plain.bin' });
    let res = await tusRequest('POST', '/uploads', plain, { 'upload-length': '10' });
    assert.equal(res.status, 403);
    assert.equal(res.json.error?.code, 'scope_mismatch');

    const limited = await key.mint({ op: 'put', object: 'tus/limit.bin', resumable: true, maxSize: 100 });
    res = await tusRequest('POST', '/uploads', limited, { 'upload-length': '101' });
    assert.equal(res.status, 413);
    assert.equal(res.json.error?.code, 'entity_too_large');
    res = await tusRequest('POST', '/uploads', limited, {});
    assert.equal(res.status, 400, 'the total size must be declared');

    const typed = await key.mint({
      op: 'put',
      object: 'tus/typed.png',
      resumable: true,
      contentTypes: ['image/png'],
    });
    res = await tusRequest('POST', '/uploads', typed, {
      'upload-length': '4',
      'upload-metadata': `filetype ${b64('text/html')}`,
    });
    assert.equal(res.status, 415);
    assert.equal(res.json.error?.code, 'unsupported_media_type');

    const once = await create('tus/once.bin', 4);
    res = await tusRequest('POST', '/uploads', once.token, { 'upload-length': '4' });
    assert.equal(res.status, 403, 'a second upload with the same key');
    assert.equal(res.json.error?.code, 'token_replayed');

    // A resumable key is not a single-PUT key.
    res = await request(storage.url, {
      method: 'PUT',
      path: `/o/tus/once.bin?vk=${once.token}`,
      body: 'abcd',
    });
    assert.equal(res.status, 403);
    assert.equal(res.json.error?.code, 'scope_mismatch');
  });

  it('needs a key bound to the upload, for the same object and subject', async () => {
    const upload = await create('tus/bound.bin', 8);
    const second = await create('tus/second.bin', 8);
    // The key that created another upload.
    let res = await patch(upload.path, second.token, 0, Buffer.from('12345678'));
    assert.equal(res.status, 403);
    assert.equal(res.json.error?.code, 'scope_mismatch');
    // A renewed key for this upload but minted for another user.
    const bobs = await key.mint({ op: 'put', object: 'tus/bound.bin', subject: 'bob', upload: upload.id });
    res = await tusRequest('HEAD', upload.path, bobs);
    assert.equal(res.status, 403);
    // A renewed key for this upload but another object.
    const elsewhere = await key.mint({ op: 'put', object: 'tus/other.bin', upload: upload.id });
    res = await patch(upload.path, elsewhere, 0, Buffer.from('12345678'));
    assert.equal(res.status, 403);
    // No key at all, a forged one, a get key.
    assert.equal((await tusRequest('HEAD', upload.path, undefined)).status, 401);
    const forged = await other.mint({ op: 'put', object: 'tus/bound.bin', upload: upload.id });
    assert.equal((await tusRequest('HEAD', upload.path, `${forged.slice(0, -4)}AAAA`)).status, 401);
    const reader = await key.mint({ op: 'get', object: 'tus/bound.bin' });
    assert.equal((await tusRequest('HEAD', upload.path, reader)).status, 403);
    assert.equal(await offsetOf(upload.path, upload.token), 0, 'nothing was written by refused requests');

    // A renewed key (same object, subject, upload) continues it; the creating key has expired.
    const renewed = await key.mint({ op: 'put', object: 'tus/bound.bin', upload: upload.id });
    const expired = await key.mint({
      op: 'put',
      object: 'tus/bound.bin',
      resumable: true,
      jti: upload.id,
      ttl: 60,
      now: () => Date.now() - 600_000,
    });
    res = await tusRequest('HEAD', upload.path, expired);
    assert.equal(res.status, 403);
    assert.equal(res.json.error?.code ?? 'token_expired', 'token_expired');
    res = await patch(upload.path, renewed, 0, Buffer.from('1234'));
    assert.equal(res.status, 204);
    res = await patch(upload.path, renewed, 4, Buffer.from('5678'));
    assert.equal(res.status, 200);
    assert.equal(res.json.sha256, sha256(Buffer.from('12345678')));
    assert.equal((await read('tus/bound.bin')).body.toString(), '12345678');
  });

  it('refuses bytes past the declared size and keeps what came before', async () => {
    const upload = await create('tus/over.bin', 10);
    let res = await patch(upload.path, upload.token, 0, Buffer.from('0123456789ABC'));
    assert.equal(res.status, 413);
    assert.equal(res.json.error?.code, 'entity_too_large');
    // Streamed without a length: cut at the limit, never stored beyond it.
    res = await request(storage.url, {
      method: 'PATCH',
      path: upload.path,
      headers: {
        ...TUS,
        authorization: `Bearer ${upload.token}`,
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
        'transfer-encoding': 'chunked',
      },
      body: (async function* () {
        yield Buffer.from('01234');
        yield Buffer.from('56789ABCDEF');
      })(),
    });
    assert.equal(res.status, 413);
    assert.equal((await read('tus/over.bin')).status, 404, 'no object from an oversize upload');
    assert.ok((await offsetOf(upload.path, upload.token)) <= 10);
  });

  it('answers a chunk at the wrong offset with 409, and a finished upload with its result', async () => {
    const upload = await create('tus/offset.bin', 6, {}, 'text/plain');
    assert.equal((await patch(upload.path, upload.token, 0, Buffer.from('abc'))).status, 204);
    const res = await patch(upload.path, upload.token, 0, Buffer.from('abc'));
    assert.equal(res.status, 409);
    assert.equal(res.json.error?.code, 'offset_mismatch');
    assert.equal((await patch(upload.path, upload.token, 3, Buffer.from('def'))).status, 200);
    const head = await tusRequest('HEAD', upload.path, upload.token);
    assert.equal(head.headers['upload-offset'], '6');
    // A page may read the upload's expiry (tus creation extension), not only its offset.
    assert.match(String(head.headers['access-control-expose-headers']), /\bUpload-Expires\b/);
    assert.match(
      String(head.headers['upload-metadata']),
      new RegExp(`valet-sha256 ${b64(sha256(Buffer.from('abcdef')))}`),
    );
    const got = await read('tus/offset.bin');
    assert.equal(got.headers['content-type'], 'text/plain');
    // Terminating a finished upload is refused as gone (410, as the README says); the object stays.
    const terminated = await tusRequest('DELETE', upload.path, upload.token);
    assert.equal(terminated.status, 410);
    assert.equal(terminated.json.error?.code, 'upload_gone');
    assert.equal((await read('tus/offset.bin')).status, 200);
  });

  it('refuses protocol errors as JSON with a stable code, as tus 1.0 asks', async () => {
    const token = await key.mint({ op: 'put', object: 'tus/protocol.bin', resumable: true });
    const json = (res: { headers: Record<string, unknown> }) =>
      assert.match(String(res.headers['content-type']), /^application\/json/);
    // No Tus-Resumable, or a version this server does not speak: 412 with Tus-Version.
    for (const version of [undefined, '0.2.2']) {
      const res = await request(storage.url, {
        method: 'POST',
        path: '/uploads',
        headers: {
          authorization: `Bearer ${token}`,
          'upload-length': '4',
          ...(version !== undefined && { 'tus-resumable': version }),
        },
      });
      assert.equal(res.status, 412, String(version));
      assert.equal(res.headers['tus-version'], '1.0.0');
      assert.equal(res.json.error?.code, 'precondition_failed');
      json(res);
    }
    const upload = await create('tus/protocol.bin', 4);
    // A PATCH whose body is not application/offset+octet-stream: 415.
    const typed = await tusRequest(
      'PATCH',
      upload.path,
      upload.token,
      { 'upload-offset': '0', 'content-type': 'text/plain' },
      Buffer.from('abcd'),
    );
    assert.equal(typed.status, 415);
    assert.equal(typed.json.error?.code, 'unsupported_media_type');
    json(typed);
    // A malformed header that @tus/server itself refuses (in plain text) reaches the client as JSON.
    const offset = await tusRequest(
      'PATCH',
      upload.path,
      upload.token,
      { 'upload-offset': 'x' },
      Buffer.from('abcd'),
    );
    assert.equal(offset.status, 400);
    assert.equal(offset.json.error?.code, 'bad_request');
    json(offset);
    assert.equal(await offsetOf(upload.path, upload.token), 0, 'nothing was written');
  });

  it('checks the SHA-256 bound in the key and removes a corrupt upload', async () => {
    const good = Buffer.from('the expected bytes');
    const upload = await create('tus/digest.bin', good.length, { sha256: sha256(good) });
    const res = await patch(
      upload.path,
      upload.token,
      0,
      Buffer.from('the unexpected byte'.slice(0, good.length)),
    );
    assert.equal(res.status, 400);
    assert.equal(res.json.error?.code, 'bad_digest');
    assert.equal((await read('tus/digest.bin')).status, 404);
    assert.equal((await tusRequest('HEAD', upload.path, upload.token)).status, 404);
    assert.ok(!(await uploadFiles()).some((f) => f.startsWith(upload.id)), 'its files are gone');
  });

  it('keeps a create-only key create-only, and never damages the existing object', async () => {
    const first = await create('tus/once-only.bin', 3, { noOverwrite: true });
    const second = await create('tus/once-only.bin', 3, { noOverwrite: true });
    assert.equal((await patch(first.path, first.token, 0, Buffer.from('one'))).status, 200);
    const res = await patch(second.path, second.token, 0, Buffer.from('two'));
    assert.equal(res.status, 412);
    assert.equal(res.json.error?.code, 'precondition_failed');
    assert.equal((await read('tus/once-only.bin')).body.toString(), 'one');
  });

  it('verifies a chunk against its Upload-Checksum and discards one that does not match', async () => {
    const options = await tusRequest('OPTIONS', '/uploads', undefined);
    assert.match(String(options.headers['tus-extension']), /checksum/);
    assert.match(String(options.headers['tus-checksum-algorithm']), /sha256/);
    const upload = await create('tus/checksum.bin', 8);
    const digest = (algorithm: string, data: string) => createHash(algorithm).update(data).digest('base64');
    let res = await tusRequest(
      'PATCH',
      upload.path,
      upload.token,
      { 'upload-offset': '0', 'upload-checksum': `sha256 ${digest('sha256', 'abcd')}` },
      Buffer.from('abcd'),
    );
    assert.equal(res.status, 204);
    // Corrupted on the way: the chunk is refused with 460 and its bytes are dropped.
    res = await tusRequest(
      'PATCH',
      upload.path,
      upload.token,
      { 'upload-offset': '4', 'upload-checksum': `sha1 ${digest('sha1', 'efgh')}` },
      Buffer.from('efgX'),
    );
    assert.equal(res.status, 460);
    assert.equal(res.json.error?.code, 'checksum_mismatch');
    assert.equal(await offsetOf(upload.path, upload.token), 4);
    res = await tusRequest(
      'PATCH',
      upload.path,
      upload.token,
      { 'upload-offset': '4', 'upload-checksum': `crc32 AAAA` },
      Buffer.from('efgh'),
    );
    assert.equal(res.status, 400, 'an unsupported algorithm');
    res = await tusRequest(
      'PATCH',
      upload.path,
      upload.token,
      { 'upload-offset': '4', 'upload-checksum': `md5 ${digest('md5', 'efgh')}` },
      Buffer.from('efgh'),
    );
    assert.equal(res.status, 200);
    assert.equal((await read('tus/checksum.bin')).body.toString(), 'abcdefgh');
  });

  it('stores an empty upload at creation', async () => {
    const token = await key.mint({ op: 'put', object: 'tus/empty.bin', resumable: true });
    const res = await tusRequest('POST', '/uploads', token, { 'upload-length': '0' });
    assert.equal(res.status, 201);
    assert.equal(res.json.sha256, sha256(Buffer.alloc(0)));
    const got = await read('tus/empty.bin');
    assert.equal(got.status, 200);
    assert.equal(got.body.length, 0);
  });

  it('terminates an unfinished upload on request', async () => {
    const upload = await create('tus/cancel.bin', 100);
    await patch(upload.path, upload.token, 0, Buffer.alloc(40));
    assert.equal((await tusRequest('DELETE', upload.path, upload.token)).status, 204);
    assert.equal((await tusRequest('HEAD', upload.path, upload.token)).status, 404);
    assert.ok(!(await uploadFiles()).some((f) => f.startsWith(upload.id)));
  });

  it('keeps what arrived before a cut connection, at random offsets, and resumes to the same bytes', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const upload = await create('tus/cut.bin', data.length);
    let offset = 0;
    let cuts = 0;
    while (offset < data.length && cuts < 5) {
      // Send the headers and part of the rest, then reset the connection.
      const cutAt = offset + 1 + Math.floor(Math.random() * (data.length - offset - 1));
      await cutPatch(storage.url, upload.path, upload.token, offset, data, cutAt);
      cuts++;
      const now = await waitForOffset(() => offsetOf(upload.path, upload.token), offset);
      assert.ok(now >= offset && now <= cutAt, `offset ${now} after a cut at ${cutAt}`);
      offset = now;
    }
    const res = await patch(upload.path, upload.token, offset, data.subarray(offset));
    assert.equal(res.status, 200);
    assert.equal(sha256((await read('tus/cut.bin')).body), sha256(data));
  });

  it('resumes after storage is killed mid-upload and restarted; no partial object is ever visible', async () => {
    const port = await freePort();
    const dataDir = path.join(path.dirname(storage.dataDir), 'crash-data');
    let crashing = await startStorage({ jwksFile, dataDir, args: ['--port', String(port)] });
    const base = crashing.url;
    const data = randomBytes(4 * 1024 * 1024);
    const token = await key.mint({ op: 'put', object: 'tus/crash.bin', resumable: true });
    let res = await request(base, {
      method: 'POST',
      path: '/uploads',
      headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-length': String(data.length) },
    });
    const target = new URL(String(res.headers.location)).pathname;
    const reader = await key.mint({ op: 'get', object: 'tus/crash.bin' });
    let offset = 0;
    try {
      for (let round = 0; round < 3; round++) {
        // Stream the rest slowly and kill storage (SIGKILL) at a random moment.
        const sending = slowPatch(base, target, token, offset, data).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 250));
        await crashing.stop('SIGKILL');
        await sending;
        crashing = await startStorage({ jwksFile, dataDir, args: ['--port', String(port)] });
        const got = await request(base, { path: `/o/tus/crash.bin?vk=${reader}` });
        if (got.status === 200) {
          assert.equal(sha256(got.body), sha256(data), 'an object, if visible, is whole');
        } else assert.equal(got.status, 404);
        res = await request(base, {
          method: 'HEAD',
          path: target,
          headers: { ...TUS, authorization: `Bearer ${token}` },
        });
        assert.equal(res.status, 200);
        const now = Number(res.headers['upload-offset']);
        assert.ok(now >= offset, 'no byte that was kept is lost');
        offset = now;
        if (offset === data.length) break;
      }
      if (offset < data.length) {
        res = await request(base, {
          method: 'PATCH',
          path: target,
          headers: {
            ...TUS,
            authorization: `Bearer ${token}`,
            'upload-offset': String(offset),
            'content-type': 'application/offset+octet-stream',
          },
          body: data.subarray(offset),
        });
        assert.equal(res.status, 200, res.body.toString());
      }
      const got = await request(base, { path: `/o/tus/crash.bin?vk=${reader}` });
      assert.equal(sha256(got.body), sha256(data));
    } finally {
      await crashing.stop();
    }
  });

  it('finishes at start-up an upload whose last bytes landed just before a crash', async () => {
    const port = await freePort();
    const dataDir = path.join(path.dirname(storage.dataDir), 'recover-data');
    let restarted = await startStorage({ jwksFile, dataDir, args: ['--port', String(port)] });
    try {
      const data = randomBytes(100_000);
      const token = await key.mint({
        op: 'put',
        object: 'tus/recover.bin',
        resumable: true,
        sha256: sha256(data),
      });
      let res = await request(restarted.url, {
        method: 'POST',
        path: '/uploads',
        headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-length': String(data.length) },
      });
      const id = new URL(String(res.headers.location)).pathname.split('/').pop() as string;
      await restarted.stop('SIGKILL');
      // As if every byte had been written when the process died, before the commit.
      await appendFile(path.join(dataDir, 'uploads', `${id}.part`), data);
      restarted = await startStorage({ jwksFile, dataDir, args: ['--port', String(port)] });
      const reader = await key.mint({ op: 'get', object: 'tus/recover.bin' });
      res = await request(restarted.url, { path: `/o/tus/recover.bin?vk=${reader}` });
      assert.equal(res.status, 200, 'committed at start-up, before any client came back');
      assert.equal(sha256(res.body), sha256(data));
      assert.match(restarted.logs(), /finished resumable uploads left by a crash/);
    } finally {
      await restarted.stop();
    }
  });

  it('expires unfinished uploads and removes their files', async () => {
    const port = await freePort();
    const dataDir = path.join(path.dirname(storage.dataDir), 'expiry-data');
    let short = await startStorage({
      jwksFile,
      dataDir,
      args: ['--port', String(port), '--upload-lifetime', '1s'],
    });
    try {
      const token = await key.mint({ op: 'put', object: 'tus/expire.bin', resumable: true });
      let res = await request(short.url, {
        method: 'POST',
        path: '/uploads',
        headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-length': '10' },
      });
      const target = new URL(String(res.headers.location)).pathname;
      await new Promise((r) => setTimeout(r, 1500));
      res = await request(short.url, {
        method: 'HEAD',
        path: target,
        headers: { ...TUS, authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 410);
      // Expired uploads are swept at start-up and every minute.
      await short.stop();
      short = await startStorage({ jwksFile, dataDir, args: ['--port', String(port)] });
      assert.deepEqual(await readdir(path.join(dataDir, 'uploads')), []);
    } finally {
      await short.stop();
    }
  });
});

/** A PATCH of `data` from `offset` whose connection is reset after byte `cutAt` of the upload. */
function cutPatch(base: string, target: string, token: string, offset: number, data: Buffer, cutAt: number) {
  const url = new URL(base);
  return new Promise<void>((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(
        `PATCH ${target} HTTP/1.1\r\nHost: ${url.host}\r\nTus-Resumable: 1.0.0\r\n` +
          `Authorization: Bearer ${token}\r\nUpload-Offset: ${offset}\r\n` +
          `Content-Type: application/offset+octet-stream\r\nContent-Length: ${data.length - offset}\r\n\r\n`,
      );
      socket.write(data.subarray(offset, cutAt), () => setTimeout(() => socket.resetAndDestroy(), 30));
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

/** A PATCH that streams the rest of `data` in small pieces with pauses (to be interrupted). */
async function slowPatch(base: string, target: string, token: string, offset: number, data: Buffer) {
  return request(base, {
    method: 'PATCH',
    path: target,
    headers: {
      ...TUS,
      authorization: `Bearer ${token}`,
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
      'content-length': String(data.length - offset),
    },
    body: (async function* () {
      for (let at = offset; at < data.length; at += 64 * 1024) {
        yield data.subarray(at, Math.min(data.length, at + 64 * 1024));
        await new Promise((r) => setTimeout(r, 5));
      }
    })(),
  });
}

/** Storage notices a cut connection a moment later: wait until the offset stops moving. */
async function waitForOffset(get: () => Promise<number>, floor: number): Promise<number> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const now = await get().catch(() => -1);
    if (now >= floor && now === last) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}
