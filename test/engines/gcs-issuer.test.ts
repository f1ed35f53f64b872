// The whole flow client → issuer → "GCS" with the GCS driver, where "GCS" is A STAND-IN THESE
// TESTS WRITE (test/helpers/gcs-standin.ts), not Google Cloud Storage: no emulator here verifies
// V4 signatures and no live GCS is reached. Uploads verified from the store, create-only refused
// by the store, a resumable session resumed after an interruption, unreported uploads settled,
// and rules the store cannot enforce refused at configuration.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { GcsDriver } from '../../src/drivers/gcs/index.js';
import { createIssuer, type IssuerOptions } from '../../src/issuer/issuer.js';
import type { Rule } from '../../src/issuer/rules.js';
import { isValetError, ValetError } from '../../src/token/errors.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-standin.js';
import { trustOf } from '../helpers/gcs-standin-auth.js';
import { dummyAccount } from '../helpers/gcs-vectors.js';
import { testKey } from '../helpers/keys.js';
import { interruptedAndResumed } from '../helpers/resumable-flow.js';
import { refusal, servedDriverIssuer, userAuth } from '../helpers/system.js';

/** Large uploads, resumable. */
const BIG: Record<string, Rule> = {
  big: { op: 'put', prefix: 'users/{subject}/', maxSize: 64 * 2 ** 20, accept: ['once', 'revocation'] },
  read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
};

const RULES: Record<string, Rule> = {
  upload: {
    op: 'put',
    prefix: 'users/{subject}/',
    maxSize: 1024 * 1024,
    contentTypes: ['image/*', 'text/plain'],
    accept: ['once', 'revocation'],
  },
  read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
  remove: { op: 'delete', prefix: 'users/{subject}/', accept: ['once', 'revocation'] },
  share: { op: 'share', prefix: 'users/{subject}/', accept: ['revocation'] },
};

describe('issuer with the GCS driver (a test-written stand-in, not GCS)', () => {
  const account = dummyAccount();
  let gcs: GcsStandIn;
  let driver: GcsDriver;
  before(async () => {
    gcs = await startGcsStandIn(trustOf(account.client_email, account.private_key));
    driver = new GcsDriver({
      bucket: gcs.bucket,
      endpoint: gcs.endpoint,
      credentials: { client_email: account.client_email, private_key: account.private_key },
    });
  });
  after(() => gcs?.close());

  const issuerFor = (t: TestContext, options: Partial<IssuerOptions> = {}) =>
    servedDriverIssuer(t, driver, { rules: RULES, ...options });
  const alice = (url: string, extra: object = {}) =>
    createClient({ issuer: url, getToken: () => 'user:alice', retryDelay: 50, ...extra });

  it('refuses, at configuration, a rule that sets what GCS cannot enforce unless it accepts it', async () => {
    const base = {
      signingKeys: [(await testKey()).jwk],
      database: ':memory:',
      driver,
      storageSecret: 's'.repeat(43),
      authenticate: userAuth,
    };
    for (const [rule, what] of [
      [{ op: 'put', prefix: 'u/', accept: ['revocation'] }, 'once'], // single use by default
      [{ op: 'get', prefix: 'u/' }, 'revocation'],
      [{ op: 'put', prefix: 'u/', once: false, requireSha256: true, accept: ['revocation'] }, 'sha256'],
    ] as Array<[Rule, string]>) {
      await assert.rejects(
        createIssuer({ ...base, rules: { r: rule } }),
        (e) =>
          isValetError(e, 'invalid_options') && /cannot enforce/.test(e.message) && e.message.includes(what),
      );
    }
    // Size, type and create-only are GCS's own checks: not refused.
    const issuer = await createIssuer({
      ...base,
      rules: {
        r: {
          op: 'put',
          prefix: 'u/',
          maxSize: 10,
          contentTypes: ['text/plain'],
          createOnly: true,
          accept: ['once', 'revocation'],
        },
      },
    });
    await issuer.close();
  });

  it('uploads straight to the store, verifies it, lists, shares, downloads and deletes it', async (t) => {
    const { url } = await issuerFor(t);
    const client = alice(url);
    const data = randomBytes(200_000);
    const result = await client.upload(new Blob([data], { type: 'image/png' }), { name: 'p.png' });
    assert.equal(result.key, 'users/alice/p.png');
    assert.equal(result.size, data.length);
    assert.equal(result.sha256, null, 'GCS keeps no SHA-256');
    assert.deepEqual(
      (await client.list()).map((o) => [o.key, o.size, o.contentType]),
      [['users/alice/p.png', data.length, 'image/png']],
    );
    const download = await client.download(result.key);
    assert.deepEqual(Buffer.from(await (await download.blob()).arrayBuffer()), data);
    const link = await client.share(result.key, { ttl: 60 });
    const shared = await fetch(link.url);
    assert.equal(shared.status, 200);
    assert.equal(shared.headers.get('content-disposition'), 'inline; filename="p.png"');
    assert.deepEqual(Buffer.from(await shared.arrayBuffer()), data);
    const bob = createClient({ issuer: url, getToken: () => 'user:bob', retryDelay: 50 });
    assert.equal(await refusal(bob.download(result.key)), 'forbidden');
    await client.delete(result.key);
    assert.equal(await driver.head(result.key), undefined);
    assert.deepEqual(await client.list(), [], 'the deletion is recorded');
    // No signature reached a log line of the stand-in's (it keeps paths, never queries).
    assert.ok(gcs.seen.every((line) => !line.includes('Signature')));
  });

  it('has the store refuse a create-only upload over an existing object, which stays as it was', async (t) => {
    const rules = { ...RULES, upload: { ...(RULES.upload as Rule), createOnly: true } as Rule };
    const { url } = await issuerFor(t, { rules });
    const client = alice(url, { retries: 0 });
    await client.upload(new Blob(['first'], { type: 'text/plain' }), { name: 'once.txt' });
    const refused = await client
      .upload(new Blob(['second'], { type: 'text/plain' }), { name: 'once.txt' })
      .catch((e: ValetError) => e);
    assert.ok(refused instanceof ValetError);
    assert.equal(refused.code, 'precondition_failed');
    const back = await client.download('users/alice/once.txt');
    assert.equal(await (await back.blob()).text(), 'first');
  });

  it('records an upload its client never reported, once its key has lapsed', async (t) => {
    let offset = 0;
    const { issuer } = await issuerFor(t, { now: () => Date.now() + offset });
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'quiet.txt',
      size: 5,
      contentType: 'text/plain',
    });
    const res = await fetch(minted.url, { method: 'PUT', headers: minted.headers, body: 'quiet' });
    assert.equal(res.status, 200);
    assert.equal(await issuer.checkUnreportedUploads(), 0);
    offset = 400_000;
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.deepEqual(
      (await issuer.list('alice')).map((o) => [o.key, o.size]),
      [['users/alice/quiet.txt', 5]],
    );
  });

  it('sends a 20 MiB upload as a resumable session, resumed after an interruption', async (t) => {
    const { issuer, url } = await issuerFor(t, { rules: BIG });
    const { id, result } = await interruptedAndResumed(url, {
      name: 'video.mp4',
      type: 'video/mp4',
      protocol: 'gcs-resumable',
      before: async () => {
        assert.equal(await driver.head('users/alice/video.mp4'), undefined, 'no object before the last byte');
      },
    });
    const head = await driver.head(result.key);
    assert.equal(head?.size, result.size);
    assert.equal(head?.contentType, 'video/mp4');
    assert.ok(await issuer.records.getGrant(id));
  });

  it('cancels the sessions of uploads past their lifetime, from its own records, each once', async (t) => {
    const { issuer, url } = await issuerFor(t, { rules: BIG, uploadLifetime: 1 });
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'stale.bin',
      size: 9 * 2 ** 20,
      resumable: true,
    });
    const done = await issuer.mint('alice', { op: 'put', name: 'small.bin', size: 3, resumable: true });
    const auth = { authorization: 'Bearer user:alice', 'content-type': 'application/json' };
    const sign = async (id: string, part: number) =>
      (await (
        await fetch(`${url}/v1/uploads/${id}/parts`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({ part }),
        })
      ).json()) as { url: string; headers: Record<string, string> };
    const first = await sign(minted.id, 1);
    const held = await fetch(first.url, {
      method: 'PUT',
      headers: first.headers,
      body: randomBytes(8 * 2 ** 20),
    });
    assert.equal(held.status, 308);
    // The other upload finishes: it is no stale upload.
    const whole = await sign(done.id, 1);
    assert.equal(
      (await fetch(whole.url, { method: 'PUT', headers: whole.headers, body: 'abc' })).status,
      200,
    );
    assert.equal(
      (await fetch(`${url}/v1/uploads/${done.id}/complete`, { method: 'POST', headers: auth })).status,
      200,
    );
    await new Promise((r) => setTimeout(r, 1500));
    const deletes = () =>
      gcs.seen.filter((line) => line.startsWith('DELETE /valet-bucket/users/alice/')).length;
    const before = deletes();
    assert.equal(await issuer.abortStaleUploads(), 1);
    assert.equal(deletes(), before + 1, 'one session cancelled at the store');
    const late = await fetch(first.url, { method: 'PUT', headers: { 'content-range': 'bytes */9437184' } });
    assert.equal(late.status, 404, 'the session is over');
    const more = await fetch(`${url}/v1/uploads/${minted.id}/parts`, {
      method: 'POST',
      headers: auth,
      body: '{"part":2}',
    });
    assert.equal(more.status, 410, 'and the issuer signs no more of its parts');
    assert.equal(await issuer.abortStaleUploads(), 0, 'each upload is cancelled once');
    assert.equal(deletes(), before + 1);
  });

  it('cancels the session when the upload is cancelled: the store takes nothing more', async (t) => {
    const { issuer, url } = await issuerFor(t, { rules: BIG });
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'gone.bin',
      size: 9 * 2 ** 20,
      resumable: true,
    });
    assert.equal(minted.upload?.protocol, 'gcs-resumable');
    const auth = { authorization: 'Bearer user:alice', 'content-type': 'application/json' };
    const part = (await (
      await fetch(`${url}/v1/uploads/${minted.id}/parts`, {
        method: 'POST',
        headers: auth,
        body: '{"part":2}',
      })
    ).json()) as { url: string; headers: Record<string, string> };
    assert.equal(part.headers['content-range'], `bytes ${8 * 2 ** 20}-${9 * 2 ** 20 - 1}/${9 * 2 ** 20}`);
    assert.equal(
      (await fetch(`${url}/v1/uploads/${minted.id}`, { method: 'DELETE', headers: auth })).status,
      204,
    );
    const late = await fetch(part.url, {
      method: 'PUT',
      headers: { 'content-range': 'bytes 0-0/9437184' },
      body: 'x',
    });
    assert.equal(late.status, 404, 'the session is over');
  });
});
