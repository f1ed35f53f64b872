// The GCS driver's protocol flows, against a STAND-IN FOR GCS THAT THESE TESTS WRITE
// (test/helpers/gcs-standin.ts): no emulator here verifies V4 signatures, and no live GCS is
// reached. The signer itself is proven on Google's conformance vectors and against the official
// SDK (src/drivers/gcs/*.test.ts); this proves the driver speaks the documented protocol.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { driverContract } from '../../src/drivers/contract.js';
import { GcsDriver } from '../../src/drivers/gcs/index.js';
import type { SignedRequest } from '../../src/drivers/types.js';
import { buildClaims, type MintOptions } from '../../src/token/mint.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-standin.js';
import { trustOf } from '../helpers/gcs-standin-auth.js';
import { dummyAccount } from '../helpers/gcs-vectors.js';

const account = dummyAccount();
const HMAC = { accessId: 'GOOG1EXAMPLEACCESSID0123', secret: 'c2VjcmV0LW9mLXRoZS1zdGFuZC1pbi1obWFjLWtleQ' };
const serviceAccount = { client_email: account.client_email, private_key: account.private_key };

async function standIn(): Promise<GcsStandIn> {
  return startGcsStandIn(
    trustOf(account.client_email, account.private_key, { [HMAC.accessId]: HMAC.secret }),
  );
}

for (const [kind, credentials] of [
  ['a service account key', serviceAccount],
  ['an HMAC key', HMAC],
] as const) {
  driverContract(`GCS driver with ${kind} (a test-written stand-in, not GCS)`, async () => {
    const gcs = await standIn();
    return {
      driver: new GcsDriver({ bucket: gcs.bucket, endpoint: gcs.endpoint, credentials }),
      close: () => gcs.close(),
    };
  });
}

function sign(
  driver: GcsDriver,
  options: Omit<MintOptions, 'subject' | 'ttl' | 'now'>,
  type?: string,
  now = Date.now(),
) {
  const claims = buildClaims({ subject: 'alice', ttl: 120, ...options, now: () => now });
  return driver.sign(claims, {
    now,
    ...(type !== undefined && { contentType: type }),
    objectType: async () => type,
    valetKey: () => Promise.reject(new Error('unused')),
  });
}

function send(request: SignedRequest, body?: string, headers: Record<string, string> = {}) {
  const h = new Headers({ ...request.headers, ...headers });
  h.delete('content-length');
  return fetch(request.url, { method: request.method, headers: h, ...(body !== undefined && { body }) });
}

describe('GCS driver: what the store is asked to enforce (a test-written stand-in, not GCS)', () => {
  let gcs: GcsStandIn;
  let driver: GcsDriver;
  before(async () => {
    gcs = await standIn();
    driver = new GcsDriver({ bucket: gcs.bucket, endpoint: gcs.endpoint, credentials: serviceAccount });
  });
  after(() => gcs.close());

  it('signs the size range, the type and create-only into an upload', async () => {
    const put = await sign(
      driver,
      { op: 'put', object: 'a/b c.txt', size: 5, noOverwrite: true },
      'text/plain',
    );
    assert.equal(put.method, 'PUT');
    assert.equal(put.headers['x-goog-content-length-range'], '5,5');
    assert.equal(put.headers['content-type'], 'text/plain');
    assert.equal(put.headers['x-goog-if-generation-match'], '0');
    const url = new URL(put.url);
    assert.equal(url.pathname, '/valet-bucket/a/b%20c.txt');
    assert.equal(
      url.searchParams.get('X-Goog-SignedHeaders'),
      'content-type;host;x-goog-content-length-range;x-goog-if-generation-match',
    );
    assert.equal((await send(put, 'hello')).status, 200);
    // Create-only: the same key cannot replace what it made.
    assert.equal((await send(put, 'again')).status, 412);
  });

  it('has every signed header checked: a tampered, dropped or added one is refused', async () => {
    const put = await sign(driver, { op: 'put', object: 'tamper.txt', maxSize: 10 }, 'text/plain');
    assert.equal(put.headers['x-goog-content-length-range'], '0,10');
    assert.equal((await send(put, 'x', { 'x-goog-content-length-range': '0,999' })).status, 403);
    assert.equal((await send(put, 'x', { 'content-type': 'text/html' })).status, 403);
    const dropped = { ...put, headers: { 'content-type': 'text/plain' } };
    assert.equal((await send(dropped, 'x')).status, 403);
    // An unsigned x-goog-* header (a copy from another object) is refused.
    assert.equal((await send(put, '', { 'x-goog-copy-source': '/valet-bucket/secret' })).status, 400);
    assert.equal((await send(put, 'eleven byte')).status, 400, 'over the signed range');
    assert.equal(gcs.objects.has('tamper.txt'), false);
  });

  it('refuses an expired key, another object, another method and a forged signature', async () => {
    const old = await sign(
      driver,
      { op: 'put', object: 'old.txt', size: 1 },
      'text/plain',
      Date.now() - 3 * 3600_000,
    );
    assert.equal((await send(old, 'x')).status, 400);
    const get = await sign(driver, { op: 'get', object: 'a/b c.txt' });
    assert.equal((await send({ ...get, method: 'DELETE' })).status, 403);
    assert.equal((await send({ ...get, url: get.url.replace('b%20c.txt', 'other.txt') })).status, 403);
    // One hex digit of the signature changed.
    const forged = get.url.replace(/Signature=(.)/, (_, c) => `Signature=${c === '0' ? '1' : '0'}`);
    assert.equal((await send({ ...get, url: forged })).status, 403);
    assert.equal((await send(get)).status, 200);
  });

  it('serves a read with the safe type and disposition it signs', async () => {
    assert.equal(
      (await send(await sign(driver, { op: 'put', object: 'page.html', size: 6 }, 'text/html'), '<b>hi!'))
        .status,
      200,
    );
    const res = await send(
      await sign(driver, { op: 'get', object: 'page.html', filename: 'résumé.html' }, 'text/html'),
    );
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.match(
      res.headers.get('content-disposition') ?? '',
      /^attachment; .*filename\*=UTF-8''r%C3%A9sum%C3%A9\.html$/,
    );
  });

  it('binds a family of types with a POST policy when the client names none', async () => {
    const post = await sign(driver, {
      op: 'put',
      object: 'pics/cat',
      maxSize: 100,
      contentTypes: ['image/*'],
    });
    assert.equal(post.method, 'POST');
    assert.equal(post.url, `${gcs.endpoint}/valet-bucket/`);
    const form = (type: string, bytes: number) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(post.fields ?? {})) f.append(k, v);
      f.append('Content-Type', type);
      f.append('file', new Blob([new Uint8Array(bytes)], { type }));
      return fetch(post.url, { method: 'POST', body: f });
    };
    assert.equal((await form('text/html', 10)).status, 403);
    assert.equal((await form('image/png', 101)).status, 400);
    assert.equal(gcs.objects.has('pics/cat'), false);
    assert.equal((await form('image/png', 100)).status, 204);
    assert.equal((await driver.head('pics/cat'))?.contentType, 'image/png');
  });

  it('starts a create-only session whose last part cannot replace an object', async () => {
    await send(await sign(driver, { op: 'put', object: 'taken.bin', size: 1 }), 'x');
    const layout = { size: 3, partSize: 8 * 2 ** 20 };
    const context = { now: Date.now(), issuerKey: () => Promise.reject(new Error('unused')) };
    const id = await driver.resumable.create({ object: 'taken.bin', noOverwrite: true, ...layout }, context);
    const part = await driver.resumable.signPart(
      { object: 'taken.bin', uploadId: id, partNumber: 1, size: 3, ttl: 60, offset: 0, total: 3 },
      context,
    );
    assert.equal(part.headers['content-range'], 'bytes 0-2/3');
    assert.equal((await send(part, 'new')).status, 412);
    assert.equal(gcs.objects.get('taken.bin')?.body.toString(), 'x');
  });

  it('says whether the bucket is ready, in words', async () => {
    assert.deepEqual(await driver.ready(), { status: 'ok' });
    const missing = new GcsDriver({
      bucket: 'no-such-bucket',
      endpoint: gcs.endpoint,
      credentials: serviceAccount,
    });
    assert.match((await missing.ready()).problem ?? '', /no-such-bucket answers 404 \(NoSuchBucket\)/);
    const away = new GcsDriver({
      bucket: 'b-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: serviceAccount,
    });
    assert.match((await away.ready()).problem ?? '', /cannot be reached at http:\/\/127\.0\.0\.1:9/);
    const stranger = new GcsDriver({
      bucket: gcs.bucket,
      endpoint: gcs.endpoint,
      credentials: { accessId: 'GOOG1UNKNOWNACCESSID', secret: 'x' },
    });
    assert.match((await stranger.ready()).problem ?? '', /answers 403 \(SignatureDoesNotMatch\)/);
    await assert.rejects(stranger.head('a/b c.txt'), /check the driver's credentials/);
  });

  it('refuses options it cannot sign with, in words', () => {
    const make = (o: object) => () =>
      new GcsDriver({ bucket: 'b-1', credentials: serviceAccount, ...o } as never);
    assert.throws(make({ bucket: 'B' }), /bucket name/);
    assert.throws(make({ credentials: {} }), /service account's JSON key/);
    assert.throws(
      make({ credentials: { client_email: 'x@y', private_key: 'nope' } }),
      /not a PEM private key/,
    );
    assert.throws(make({ credentials: { accessId: 'AKIA', secret: 's' } }), /HMAC key needs its accessId/);
    assert.throws(make({ endpoint: 'http://h/path' }), /origin with no path/);
  });
});
