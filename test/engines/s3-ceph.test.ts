// The S3 driver's presigned requests against a real Ceph cluster (radosgw), started and stopped
// by the project's fixture (test/fixtures/ceph). Never skipped: if Ceph cannot start, this fails.
// The driver contract suite (src/drivers/contract.ts) runs here on Ceph, as it does on Valet
// storage and the in-memory store.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { driverContract } from '../../src/drivers/contract.js';
import { S3Driver } from '../../src/drivers/s3/index.js';
import { type Ceph, cephBucket, startCeph } from '../helpers/ceph.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function send(
  request: { method: string; url: string; headers: Record<string, string> },
  body?: Buffer,
) {
  return fetch(request.url, {
    method: request.method,
    headers: request.headers,
    ...(body !== undefined && { body }),
  });
}

async function s3Code(response: Response): Promise<string> {
  return /<Code>([^<]+)<\/Code>/.exec(await response.text())?.[1] ?? `HTTP ${response.status}`;
}

describe('S3 driver on Ceph RGW', () => {
  let ceph: Ceph;
  let s3: S3Driver;
  before(async () => {
    ceph = await startCeph();
    s3 = await cephBucket(ceph, 'valet-test');
  });
  after(() => ceph?.stop());

  driverContract('S3 on Ceph RGW', async () => ({ driver: await cephBucket(ceph, 'valet-contract') }));

  it('uploads with a presigned PUT and downloads with safe headers', async () => {
    const data = randomBytes(100_000);
    const put = await s3.presignPut({
      object: 'users/alice/a.bin',
      size: data.length,
      contentType: 'application/pdf',
      ttl: 60,
    });
    assert.equal((await send(put, data)).status, 200);
    const head = await s3.head('users/alice/a.bin');
    assert.deepEqual([head?.size, head?.contentType], [data.length, 'application/pdf']);
    const get = await s3.presignGet({ object: 'users/alice/a.bin', ttl: 60, filename: 'a.bin' });
    const got = await send(get);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-disposition'), "attachment; filename*=UTF-8''a.bin");
    assert.equal(got.headers.get('content-type'), 'application/pdf');
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), data);
    // Anything that could run in a browser is served as bytes, whatever the uploader declared.
    const html = Buffer.from('<script>alert(1)</script>');
    const putHtml = await s3.presignPut({
      object: 'users/alice/x.html',
      size: html.length,
      contentType: 'text/html',
      ttl: 60,
    });
    assert.equal((await send(putHtml, html)).status, 200);
    const getHtml = await send(
      await s3.sign(
        {
          op: 'get',
          obj: 'users/alice/x.html',
          sub: 'alice',
          jti: 'jti-0000000000000000',
          iat: 0,
          nbf: 0,
          exp: Math.floor(Date.now() / 1000) + 60,
        },
        {
          now: Date.now(),
          objectType: async () => 'text/html',
          valetKey: () => Promise.reject(new Error('S3 signs with its own credentials')),
        },
      ),
    );
    assert.equal(getHtml.headers.get('content-type'), 'application/octet-stream');
    assert.match(getHtml.headers.get('content-disposition') ?? '', /^attachment/);
    const del = await s3.presignDelete({ object: 'users/alice/a.bin', ttl: 60 });
    assert.equal((await send(del)).status, 204);
    assert.equal(await s3.head('users/alice/a.bin'), undefined);
  });

  it('is refused by Ceph when the body, type or length differ from what was signed', async () => {
    const data = randomBytes(1000);
    const put = await s3.presignPut({
      object: 'users/alice/b.txt',
      size: data.length,
      contentType: 'text/plain',
      ttl: 60,
    });
    const wrongType = await send({ ...put, headers: { ...put.headers, 'content-type': 'text/html' } }, data);
    assert.equal(wrongType.status, 403);
    assert.equal(await s3Code(wrongType), 'SignatureDoesNotMatch');
    const longer = Buffer.concat([data, Buffer.from('x')]);
    const wrongLength = await send(
      { ...put, headers: { ...put.headers, 'content-length': String(longer.length) } },
      longer,
    );
    assert.equal(wrongLength.status, 403);
    assert.equal(await s3.head('users/alice/b.txt'), undefined, 'nothing was stored');
  });

  it('is refused by Ceph for a tampered signature, an expired URL, a wrong key, or the wrong method', async () => {
    const data = randomBytes(10);
    const put = await s3.presignPut({ object: 'users/alice/c.bin', size: data.length, ttl: 60 });
    const url = new URL(put.url);
    const signature = url.searchParams.get('X-Amz-Signature') as string;
    url.searchParams.set(
      'X-Amz-Signature',
      `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`,
    );
    const tampered = await send({ ...put, url: url.toString() }, data);
    assert.equal(tampered.status, 403);
    assert.equal(await s3Code(tampered), 'SignatureDoesNotMatch');

    const short = await s3.presignPut({ object: 'users/alice/c.bin', size: data.length, ttl: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const expired = await send(short, data);
    assert.equal(expired.status, 403);
    assert.equal(await s3Code(expired), 'AccessDenied');

    const stranger = new S3Driver({
      bucket: 'valet-test',
      endpoint: ceph.endpoint,
      forcePathStyle: true,
      credentials: {
        accessKeyId: ceph.accessKeyId,
        secretAccessKey: 'not-the-secret-key-0000000000000000000000',
      },
    });
    const forged = await send(
      await stranger.presignPut({ object: 'users/alice/c.bin', size: data.length, ttl: 60 }),
      data,
    );
    assert.equal(forged.status, 403);
    assert.equal(await s3Code(forged), 'SignatureDoesNotMatch');

    const get = await s3.presignGet({ object: 'users/alice/c.bin', ttl: 60 });
    const misused = await send(
      { ...get, method: 'PUT', headers: { 'content-length': String(data.length) } },
      data,
    );
    assert.equal(misused.status, 403);
    assert.equal(await s3.head('users/alice/c.bin'), undefined, 'nothing was stored');
  });

  it('enforces a POST policy: size range and content type', async () => {
    const post = await s3.presignPost({
      object: 'users/alice/d.png',
      maxSize: 1000,
      contentType: 'image/*',
      ttl: 60,
    });
    const form = (body: Buffer, type: string) => {
      const data = new FormData();
      for (const [name, value] of Object.entries(post.fields ?? {})) data.append(name, value);
      data.append('Content-Type', type);
      data.append('file', new Blob([body]));
      return fetch(post.url, { method: 'POST', body: data });
    };
    const tooBig = await form(randomBytes(1001), 'image/png');
    assert.equal(tooBig.status, 400);
    assert.equal(await s3Code(tooBig), 'EntityTooLarge');
    const wrongType = await form(randomBytes(10), 'text/html');
    assert.equal(wrongType.status, 403);
    assert.equal(await s3.head('users/alice/d.png'), undefined);
    const ok = await form(randomBytes(1000), 'image/png');
    assert.equal(ok.status, 204);
    assert.equal((await s3.head('users/alice/d.png'))?.size, 1000);
  });

  it('declares what Ceph 16 cannot enforce', async () => {
    const table = s3.enforcement();
    assert.equal(table.sha256, 'none', 'Ceph 16 ignores x-amz-checksum-sha256 on a presigned PUT');
    assert.equal(table.once, 'none');
    assert.equal(table.revocation, 'none');
    // The claim above is checked: a body with another digest is stored anyway.
    const data = randomBytes(64);
    const put = await new S3Driver({
      bucket: 'valet-test',
      endpoint: ceph.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
    }).presignPut({
      object: 'users/alice/e.bin',
      size: data.length,
      sha256: sha256(Buffer.alloc(64)),
      ttl: 60,
    });
    assert.equal((await send(put, data)).status, 200);
  });

  it('uploads in parts, each URL signing its part length, and completes from what Ceph holds', async () => {
    const part1 = randomBytes(5 * 1024 * 1024);
    const part2 = randomBytes(1234);
    const object = 'users/alice/big.bin';
    const uploadId = await s3.createMultipart({ object, contentType: 'application/octet-stream' });
    const url1 = await s3.presignPart({ object, uploadId, partNumber: 1, size: part1.length, ttl: 60 });
    // A part of another length than signed is refused by Ceph.
    const wrong = await send({ ...url1, headers: { 'content-length': String(part2.length) } }, part2);
    assert.equal(wrong.status, 403);
    assert.equal((await send(url1, part1)).status, 200);
    const url2 = await s3.presignPart({ object, uploadId, partNumber: 2, size: part2.length, ttl: 60 });
    assert.equal((await send(url2, part2)).status, 200);
    assert.deepEqual(
      (await s3.listParts(object, uploadId)).map((p) => [p.partNumber, p.size]),
      [
        [1, part1.length],
        [2, part2.length],
      ],
    );
    // A total that is not the declared size aborts the upload.
    const other = await s3.createMultipart({ object: 'users/alice/short.bin' });
    const only = await s3.presignPart({
      object: 'users/alice/short.bin',
      uploadId: other,
      partNumber: 1,
      size: 10,
      ttl: 60,
    });
    assert.equal((await send(only, randomBytes(10))).status, 200);
    await assert.rejects(
      s3.completeMultipart({ object: 'users/alice/short.bin', uploadId: other, expectedSize: 11 }),
      (e) => e instanceof Error && 'code' in e && (e as { code: string }).code === 'upload_rejected',
    );
    assert.equal(await s3.head('users/alice/short.bin'), undefined);

    await s3.completeMultipart({ object, uploadId, expectedSize: part1.length + part2.length });
    const got = await send(await s3.presignGet({ object, ttl: 60 }));
    const body = Buffer.from(await got.arrayBuffer());
    assert.equal(sha256(body), sha256(Buffer.concat([part1, part2])));

    // Stale multipart uploads are aborted.
    const stale = await s3.createMultipart({ object: 'users/alice/stale.bin' });
    assert.equal(await s3.abortStaleMultiparts(new Date(Date.now() + 60_000)), 1);
    await assert.rejects(s3.listParts('users/alice/stale.bin', stale));
  });
});
