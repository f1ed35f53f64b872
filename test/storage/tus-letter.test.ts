// End-to-end: Valet storage follows tus 1.0 to the letter where clients depend on it, found with
// curl, tus-js-client and Debian's python3-tuspy (which sends an empty Upload-Metadata): every
// response but OPTIONS names the version, the method override is honoured, malformed requests
// are 400 (never 403 or a 503 a client would retry), and a creation whose bytes were refused
// still says where its upload is.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { type RunningStorage, startStorage } from '../helpers/storage.js';

const TUS = { 'tus-resumable': '1.0.0' };
const CHUNK = 'application/offset+octet-stream';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('tus 1.0, to the letter', () => {
  let key: TestKey;
  let storage: RunningStorage;

  before(async () => {
    key = await testKey();
    storage = await startStorage({
      jwksFile: (await keyFiles([key])).jwksFile,
      args: ['--cors-origin', 'https://app.example'],
    });
  });
  after(() => storage.stop());

  const tus = (method: string, target: string, token: string | undefined, headers = {}, body?: Buffer) =>
    request(storage.url, {
      method,
      path: target,
      headers: { ...TUS, ...(token !== undefined && { authorization: `Bearer ${token}` }), ...headers },
      ...(body !== undefined && { body }),
    });
  const creatingKey = (object: string, extra = {}) =>
    key.mint({ op: 'put', object, resumable: true, ...extra });
  /** A PATCH of `body` at `offset`, as tus sends it (or with another chunk type). */
  const patch = (target: string, token: string, offset: number, body: Buffer, type = CHUNK) =>
    tus('PATCH', target, token, { 'upload-offset': String(offset), 'content-type': type }, body);
  const create = async (object: string, size: number, headers = {}) => {
    const token = await creatingKey(object);
    const res = await tus('POST', '/uploads', token, { 'upload-length': String(size), ...headers });
    assert.equal(res.status, 201, res.body.toString());
    return { token, path: new URL(String(res.headers.location), storage.url).pathname };
  };
  const read = async (object: string) => {
    const token = await key.mint({ op: 'get', object });
    return request(storage.url, { path: `/o/${object}?vk=${token}` });
  };

  it('takes an empty Upload-Metadata as none, and never answers one', async () => {
    const { token, path: target } = await create('letter/empty-meta.bin', 5, { 'upload-metadata': '' });
    const head = await tus('HEAD', target, token);
    assert.equal(head.status, 200);
    assert.equal(head.headers['upload-metadata'], undefined, 'no metadata: no header');
    const done = await patch(target, token, 0, Buffer.from('hello'));
    assert.equal(done.status, 200, done.body.toString());
    assert.equal((await read('letter/empty-meta.bin')).body.toString(), 'hello');
  });

  it('uploads with Debian python3-tuspy, which sends an empty Upload-Metadata', async () => {
    const data = randomBytes(300 * 1024 + 17);
    const file = path.join(tmpdir(), `valet-tuspy-${process.pid}.bin`);
    await writeFile(file, data);
    const token = await creatingKey('letter/tuspy.bin');
    const script = `
import sys
from tusclient import client
c = client.TusClient(sys.argv[1] + '/uploads', headers={'Authorization': 'Bearer ' + sys.argv[2]})
u = c.uploader(sys.argv[3], chunk_size=100 * 1024)
u.upload()
print(u.url)
`;
    const result = spawnSync('/usr/bin/python3', ['-c', script, storage.url, token, file], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /\/uploads\/[A-Za-z0-9_-]+/);
    const got = await read('letter/tuspy.bin');
    assert.equal(got.status, 200);
    assert.equal(sha256(got.body), sha256(data));
  });

  it('refuses Upload-Length with Upload-Defer-Length as a bad request, not 503', async () => {
    const res = await tus('POST', '/uploads', await creatingKey('letter/defer.bin'), {
      'upload-length': '10',
      'upload-defer-length': '1',
    });
    assert.equal(res.status, 400);
    assert.equal(res.json.error?.code, 'bad_request');
    assert.match(res.json.error?.message ?? '', /Upload-Defer-Length/);
    const alone = await tus('POST', '/uploads', await creatingKey('letter/defer2.bin'), {
      'upload-defer-length': '1',
    });
    assert.equal(alone.status, 400);
  });

  it('honours X-HTTP-Method-Override on a POST, as the preflight advertises', async () => {
    const { token, path: target } = await create('letter/override.bin', 6);
    const preflight = await request(storage.url, {
      method: 'OPTIONS',
      path: '/uploads',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-http-method-override',
      },
    });
    assert.equal(preflight.status, 204);
    assert.match(String(preflight.headers['access-control-allow-headers']), /X-HTTP-Method-Override/i);
    const patched = await tus(
      'POST',
      target,
      token,
      {
        'x-http-method-override': 'PATCH',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      Buffer.from('abc'),
    );
    assert.equal(patched.status, 204, patched.body.toString());
    assert.equal(patched.headers['upload-offset'], '3');
    const head = await tus('POST', target, token, { 'x-http-method-override': 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['upload-offset'], '3');
    const last = await tus(
      'POST',
      target,
      token,
      {
        'x-http-method-override': 'patch',
        'upload-offset': '3',
        'content-type': 'application/offset+octet-stream',
      },
      Buffer.from('def'),
    );
    assert.equal(last.status, 200, 'the last chunk answers the stored object, as a PATCH does');
    assert.equal((await read('letter/override.bin')).body.toString(), 'abcdef');
    const bad = await tus('PUT', target, token, { 'x-http-method-override': 'PATCH' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error?.code, 'bad_request');
  });

  it("names the version on Valet's own refusals, every status but OPTIONS", async () => {
    const { token, path: target } = await create('letter/refusals.bin', 10);
    const cases: Array<[number, Promise<Awaited<ReturnType<typeof tus>>>]> = [
      [400, tus('POST', '/uploads', await creatingKey('letter/r400.bin'))],
      [401, tus('HEAD', target, undefined)],
      [403, tus('HEAD', target, await key.mint({ op: 'get', object: 'letter/refusals.bin' }))],
      [
        404,
        tus(
          'HEAD',
          '/uploads/AAAAAAAAAAAAAAAAAAAAAA',
          await key.mint({ op: 'put', object: 'letter/refusals.bin', upload: 'AAAAAAAAAAAAAAAAAAAAAA' }),
        ),
      ],
      [405, tus('GET', target, token)],
      [
        412,
        request(storage.url, { method: 'HEAD', path: target, headers: { authorization: `Bearer ${token}` } }),
      ],
      [
        415,
        tus('PATCH', target, token, { 'upload-offset': '0', 'content-type': 'text/plain' }, Buffer.from('x')),
      ],
    ];
    for (const [status, pending] of cases) {
      const res = await pending;
      assert.equal(res.status, status, res.body.toString());
      assert.equal(res.headers['tus-resumable'], '1.0.0', `Tus-Resumable on the ${status}`);
    }
  });

  it('refuses a PATCH without Upload-Offset with 400, and takes a chunk type with parameters', async () => {
    const { token, path: target } = await create('letter/offset.bin', 4);
    const missing = await tus(
      'PATCH',
      target,
      token,
      { 'content-type': 'application/offset+octet-stream' },
      Buffer.from('ab'),
    );
    assert.equal(missing.status, 400);
    assert.match(missing.json.error?.message ?? '', /Upload-Offset/);
    const withParameter = await patch(target, token, 0, Buffer.from('abcd'), `${CHUNK}; charset=binary`);
    assert.equal(withParameter.status, 200, withParameter.body.toString());
    assert.equal((await read('letter/offset.bin')).body.toString(), 'abcd');
  });

  it('says where the upload is when a creation-with-upload is refused its bytes (460)', async () => {
    const token = await creatingKey('letter/checksum.bin');
    const bytes = Buffer.from('0123456789');
    const refused = await tus(
      'POST',
      '/uploads',
      token,
      {
        'upload-length': '10',
        'content-type': 'application/offset+octet-stream',
        'upload-checksum': `sha256 ${createHash('sha256').update('something else').digest('base64')}`,
      },
      bytes,
    );
    assert.equal(refused.status, 460, refused.body.toString());
    assert.equal(refused.json.error?.code, 'checksum_mismatch');
    const location = String(refused.headers.location ?? '');
    assert.match(location, /^\/uploads\/[A-Za-z0-9_-]{22}$/, 'the upload exists: its address is given');
    assert.equal(refused.headers['upload-offset'], '0');
    // The creating key cannot create again, but it continues the upload at that address.
    const again = await tus('POST', '/uploads', token, { 'upload-length': '10' });
    assert.equal(again.status, 403);
    const resumed = await patch(location, token, 0, bytes);
    assert.equal(resumed.status, 200, resumed.body.toString());
    assert.equal((await read('letter/checksum.bin')).body.toString(), '0123456789');
  });
});
