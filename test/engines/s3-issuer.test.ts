// The whole flow client → issuer → Ceph with the S3 driver: native presigned requests, uploads
// verified from the store when the client reports them done, and rules the store cannot enforce
// refused at configuration time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createClient } from '../../src/client/client.js';
import type { S3Driver } from '../../src/drivers/s3/index.js';
import { createIssuer, type IssuerOptions } from '../../src/issuer/issuer.js';
import type { Rule } from '../../src/issuer/rules.js';
import { isValetError, ValetError } from '../../src/token/errors.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { type Ceph, cephBucket, startCeph } from '../helpers/ceph.js';
import { devCli } from '../helpers/dev-flow.js';
import { tinyPng } from '../helpers/files.js';
import { testKey } from '../helpers/keys.js';
import { interruptedAndResumed } from '../helpers/resumable-flow.js';
import { runValet, startValet } from '../helpers/storage.js';
import { refusal, servedDriverIssuer, userAuth } from '../helpers/system.js';

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
};

describe('issuer with the S3 driver, on Ceph', () => {
  let ceph: Ceph;
  let s3: S3Driver;
  before(async () => {
    ceph = await startCeph();
    s3 = await cephBucket(ceph, 'valet-issuer');
  });
  after(() => ceph?.stop());

  const issuerFor = (t: import('node:test').TestContext, options: Partial<IssuerOptions> = {}) =>
    servedDriverIssuer(t, s3, { rules: RULES, ...options });

  it('refuses, at configuration, a rule that sets what S3 cannot enforce unless it accepts it', async () => {
    for (const rule of [
      { op: 'put', prefix: 'u/' } as Rule, // single use by default
      { op: 'get', prefix: 'u/' } as Rule, // revocation
      { op: 'put', prefix: 'u/', once: false, requireSha256: true, accept: ['revocation'] } as Rule,
    ]) {
      await assert.rejects(
        createIssuer({
          signingKeys: [(await testKey()).jwk],
          database: ':memory:',
          driver: s3,
          storageSecret: 's'.repeat(43),
          authenticate: userAuth,
          rules: { r: rule },
        }),
        (e) => isValetError(e, 'invalid_options') && /cannot enforce/.test(e.message),
      );
    }
  });

  it('uploads straight to Ceph, verifies the object, lists and downloads it', async (t) => {
    const { url } = await issuerFor(t);
    const alice = createClient({ issuer: url, getToken: () => 'user:alice', retryDelay: 50 });
    const data = randomBytes(200_000);
    const result = await alice.upload(new Blob([data], { type: 'image/png' }), { name: 'p.png' });
    assert.equal(result.key, 'users/alice/p.png');
    assert.equal(result.size, data.length);
    assert.equal(result.grant.op, 'put');
    assert.deepEqual(
      (await alice.list()).map((o) => [o.key, o.size, o.contentType]),
      [['users/alice/p.png', data.length, 'image/png']],
    );
    const download = await alice.download(result.key);
    assert.deepEqual(Buffer.from(await (await download.blob()).arrayBuffer()), data);
    const bob = createClient({ issuer: url, getToken: () => 'user:bob', retryDelay: 50 });
    assert.equal(await refusal(bob.download(result.key)), 'forbidden');
    assert.equal(
      await refusal(alice.upload(new Blob(['<b>x</b>'], { type: 'text/html' }), { name: 'x.html' })),
      'unsupported_media_type',
    );
    await alice.delete(result.key);
    assert.equal(await s3.head(result.key), undefined);
    assert.deepEqual(await alice.list(), [], 'the deletion is recorded');
  });

  it('shows an image inline from a share link or a read URL, as Valet storage does; text downloads', async (t) => {
    const { url } = await issuerFor(t, {
      rules: { ...RULES, share: { op: 'share', prefix: 'users/{subject}/', accept: ['revocation'] } },
    });
    const alice = createClient({ issuer: url, getToken: () => 'user:alice', retryDelay: 50 });
    const photo = new File([randomBytes(1000)], 'Cat photo.png', { type: 'image/png' });
    const { key } = await alice.upload(photo);
    const headers = async (link: string) => {
      const response = await fetch(link);
      await response.body?.cancel();
      return [response.headers.get('content-type'), response.headers.get('content-disposition')];
    };
    const inline = ['image/png', "inline; filename*=UTF-8''Cat%20photo.png"];
    assert.deepEqual(await headers((await alice.share(key, { ttl: 60 })).url), inline);
    assert.deepEqual(await headers((await alice.readUrl(key)).url), inline);
    assert.deepEqual(await headers((await alice.readUrl(key, { disposition: 'attachment' })).url), [
      'image/png',
      "attachment; filename*=UTF-8''Cat%20photo.png",
    ]);
    const text = await alice.upload(new Blob(['hello'], { type: 'text/plain' }), { name: 'note.txt' });
    assert.deepEqual(await headers((await alice.readUrl(text.key)).url), [
      'text/plain',
      "attachment; filename*=UTF-8''note.txt",
    ]);
  });

  it('lists and shares an upload as soon as upload() resolves, 100 times in a row', async (t) => {
    const { url } = await issuerFor(t, {
      rules: { ...RULES, share: { op: 'share', prefix: 'users/{subject}/', accept: ['revocation'] } },
    });
    const alice = createClient({ issuer: url, getToken: () => 'user:alice', retryDelay: 50 });
    for (let i = 0; i < 100; i++) {
      const { key } = await alice.upload(new Blob([`file ${i}`], { type: 'text/plain' }), {
        name: `ryw-${i}.txt`,
      });
      await alice.share(key, { ttl: 60 });
    }
    assert.equal((await alice.list()).filter((o) => o.key.includes('/ryw-')).length, 100);
  });

  it('uploads of unknown size go through a POST policy that Ceph enforces', async (t) => {
    const { issuer } = await issuerFor(t);
    const minted = await issuer.mint('alice', { op: 'put', name: 'note.txt', contentType: 'text/plain' });
    assert.equal(minted.method, 'POST');
    const form = (body: Buffer) => {
      const f = new FormData();
      for (const [name, value] of Object.entries(minted.fields ?? {})) f.append(name, value);
      f.append('file', new Blob([body]));
      return fetch(minted.url, { method: 'POST', body: f });
    };
    assert.equal((await form(randomBytes(1024 * 1024 + 1))).status, 400);
    assert.equal((await form(Buffer.from('hello'))).status, 204);
  });

  it('refuses a presigned upload turned into a copy of another object (Ceph takes unsigned headers)', async (t) => {
    const bucket = await cephBucket(ceph, 'valet-copies');
    await bucket.refuseCopies();
    await bucket.refuseCopies(); // twice: the statement is replaced, not added again
    const { issuer, url } = await servedDriverIssuer(t, bucket, { rules: RULES });
    await bucket.client.send(
      new PutObjectCommand({ Bucket: 'valet-copies', Key: 'users/bob/private.txt', Body: 'bob only' }),
    );
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'copy.txt',
      size: 8,
      contentType: 'text/plain',
    });
    const copy = await fetch(minted.url, {
      method: 'PUT',
      headers: { ...minted.headers, 'x-amz-copy-source': '/valet-copies/users/bob/private.txt' },
      body: 'whatever',
    });
    assert.equal(copy.status, 403, 'the bucket refuses the copy');
    assert.equal(await bucket.head('users/alice/copy.txt'), undefined);
    const complete = await fetch(`${url}${minted.complete}`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:alice' },
    });
    assert.equal(complete.status, 404);
    // The key still uploads what it was made for.
    assert.equal(
      (await fetch(minted.url, { method: 'PUT', headers: minted.headers, body: 'the text' })).status,
      200,
    );
  });

  it('looks again at a key used after its completion: the store’s version is the one recorded', async (t) => {
    let offset = 0;
    const { issuer, url } = await issuerFor(t, { now: () => Date.now() + offset });
    const minted = await issuer.mint('alice', { op: 'put', name: 'again.txt', contentType: 'text/plain' });
    const form = (body: Buffer) => {
      const f = new FormData();
      for (const [name, value] of Object.entries(minted.fields ?? {})) f.append(name, value);
      f.append('file', new Blob([body]));
      return fetch(minted.url, { method: 'POST', body: f });
    };
    assert.equal((await form(Buffer.from('hello'))).status, 204);
    const complete = await fetch(`${url}${minted.complete}`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:alice' },
    });
    assert.equal(complete.status, 200);
    // The same POST policy, used again: 300 KB the issuer never heard of.
    assert.equal((await form(randomBytes(300_000))).status, 204);
    offset = 400_000;
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.deepEqual(
      (await issuer.list('alice')).filter((o) => o.key === 'users/alice/again.txt').map((o) => o.size),
      [300_000],
      'listed and counted as the store holds it',
    );
  });

  it('removes an upload that breaks its key when the client reports it done', async (t) => {
    const { issuer, url } = await issuerFor(t);
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'swap.txt',
      size: 5,
      contentType: 'text/plain',
    });
    assert.equal(
      (await fetch(minted.url, { method: 'PUT', headers: minted.headers, body: 'hello' })).status,
      200,
    );
    // Someone with the bucket's own credentials replaces it before completion.
    await s3.client.send(
      new PutObjectCommand({
        Bucket: 'valet-issuer',
        Key: 'users/alice/swap.txt',
        Body: 'much longer',
        ContentType: 'text/html',
      }),
    );
    const complete = await fetch(`${url}${minted.complete}`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(complete.status, 422);
    assert.equal(((await complete.json()) as { error: { code: string } }).error.code, 'upload_rejected');
    assert.equal(await s3.head('users/alice/swap.txt'), undefined, 'the object was deleted');
    assert.deepEqual(await issuer.list('alice'), []);
    // Reporting someone else's upload, or one that never happened, is not_found.
    const other = await fetch(`${url}${minted.complete}`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:bob', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(other.status, 404);
  });

  it('sends large uploads as multipart: parts signed by the issuer, resumed after an interruption', async (t) => {
    const rules: Record<string, Rule> = {
      big: { op: 'put', prefix: 'users/{subject}/', maxSize: 64 * 2 ** 20, accept: ['once', 'revocation'] },
      read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
    };
    const { issuer, url } = await issuerFor(t, { rules });
    const { id, data, resumeStore, remembered } = await interruptedAndResumed(url, {
      name: 'video.bin',
      protocol: 's3-multipart',
    });
    assert.equal(await resumeStore.get(remembered), undefined);
    // Each part's request was a grant of its own, counted against the upload.
    const part = await fetch(`${url}/v1/uploads/${id}/parts`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
      body: JSON.stringify({ part: 1 }),
    });
    assert.equal(part.status, 410, 'a finished upload signs no more parts');
    assert.ok(await issuer.records.getGrant(id));

    // Cancelled for good (keepOnAbort: false): the store drops the parts, the upload is forgotten.
    let cancelled = '';
    const cancelling = new AbortController();
    const watched = createClient({
      issuer: url,
      getToken: () => 'user:alice',
      resumableThreshold: 0,
      resumeStore,
      fetch: (input, init) => {
        const m = /\/v1\/uploads\/([\w-]+)\/parts$/.exec(String(input));
        if (m) cancelled = m[1] as string;
        return fetch(input, init);
      },
    });
    const gone = watched.upload(new Blob([data]), {
      name: 'cancel.bin',
      fingerprint: 'cancel-v1',
      keepOnAbort: false,
      signal: cancelling.signal,
      onProgress: (p) => {
        if (p.loaded > 2 ** 20) cancelling.abort();
      },
    });
    assert.equal(await refusal(gone), 'aborted');
    const grant = await issuer.records.getGrant(cancelled);
    const s3Id = (grant?.constraints.multipart as { upload_id: string } | undefined)?.upload_id ?? '';
    await assert.rejects(s3.listParts('users/alice/cancel.bin', s3Id), 'the store dropped the parts');
    assert.equal(
      await resumeStore.get(JSON.stringify([url, null, 'cancel.bin', data.length, 'cancel-v1'])),
      undefined,
    );
    const renewal = await issuer.mint('alice', { op: 'put', upload: cancelled }).catch((e: ValetError) => e);
    assert.ok(renewal instanceof ValetError && renewal.code === 'token_revoked');
  });

  it('aborts multipart uploads older than the upload lifetime', async (t) => {
    const rules: Record<string, Rule> = {
      big: { op: 'put', prefix: 'users/{subject}/', maxSize: 64 * 2 ** 20, accept: ['once', 'revocation'] },
    };
    const { issuer } = await issuerFor(t, { rules, uploadLifetime: 1 });
    const minted = await issuer.mint('alice', {
      op: 'put',
      name: 'stale.bin',
      size: 9 * 2 ** 20,
      resumable: true,
    });
    assert.equal(minted.upload?.protocol, 's3-multipart');
    const uploadId = (await issuer.records.getGrant(minted.id))?.constraints.multipart as {
      upload_id: string;
    };
    assert.deepEqual(await s3.listParts('users/alice/stale.bin', uploadId.upload_id), []);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok((await issuer.abortStaleUploads()) >= 1);
    await assert.rejects(s3.listParts('users/alice/stale.bin', uploadId.upload_id));
    const renewal = await issuer.mint('alice', { op: 'put', upload: minted.id }).catch((e: ValetError) => e);
    assert.ok(renewal instanceof ValetError && renewal.code === 'upload_gone');
  });

  it('runs valet dev against Ceph: the CLI uploads, lists, downloads and shares the same way', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-dev-s3-'));
    const env = { AWS_ACCESS_KEY_ID: ceph.accessKeyId, AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey };
    const dev = await startValet(
      [
        'dev',
        '--port',
        '0',
        '--data',
        path.join(dir, 'data'),
        '--json',
        '--storage',
        's3',
        '--s3-endpoint',
        ceph.endpoint,
        '--s3-bucket',
        'valet-dev',
      ],
      /^(\{.*\})\n/,
      t,
      env,
    );
    const ready = JSON.parse(dev.url) as { issuer: string; storage: string; users: { alice: string } };
    assert.equal(ready.storage, `${ceph.endpoint}/valet-dev`);
    const as = await devCli(ready, dir, 'stored in Ceph');
    assert.equal((await s3.head('users/alice/doc.txt')) === undefined, true, 'another bucket than the tests');

    // The page works the same in a real browser: uploads cross-origin to Ceph (bucket CORS).
    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await (await browser.newContext()).newPage();
    await page.goto((JSON.parse(dev.url) as { web: string }).web);
    await page.getByRole('button', { name: 'Sign in as alice' }).click();
    await page.locator('#objects li', { hasText: 'doc.txt' }).waitFor();
    const picture = path.join(dir, 'page.png');
    // A real PNG (valet dev checks every upload's true type), padded to a few hundred KiB.
    await writeFile(picture, Buffer.concat([tinyPng(), randomBytes(300_000)]));
    await page.locator('#files').setInputFiles(picture);
    await page.locator('#transfers li .detail', { hasText: '100%' }).waitFor();
    await page.locator('#objects li', { hasText: 'page.png' }).waitFor();
    await screenshot(page, 's3-uploaded');
    assert.match((await page.locator('#pattern').textContent()) ?? '', /put users\/alice\/page\.png/);
    await page.getByRole('button', { name: 'Delete page.png' }).click();
    await page.getByRole('button', { name: 'Yes, delete page.png' }).click();
    await page.locator('#objects li', { hasText: 'page.png' }).waitFor({ state: 'detached' });
    // A large file goes as a multipart upload, from the page (parts PUT cross-origin to Ceph)
    // and from the CLI, and lands whole.
    const movie = path.join(dir, 'movie.bin');
    const movieData = randomBytes(12 * 2 ** 20 + 7);
    await writeFile(movie, movieData);
    await page.locator('#files').setInputFiles(movie);
    await page
      .locator('#transfers li', { hasText: 'movie.bin' })
      .locator('.detail', { hasText: '100%' })
      .waitFor();
    await page.locator('#objects li', { hasText: 'movie.bin' }).waitFor();
    assert.match(
      (await page.locator('#pattern').textContent()) ?? '',
      /resumable=true/,
      'a resumable (multipart) key',
    );
    const head = await (await cephBucket(ceph, 'valet-dev')).head('users/alice/movie.bin');
    assert.equal(head?.size, movieData.length);
    const cli = await runValet(['upload', movie, ...as, '--name', 'movie-cli.bin', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const back = path.join(dir, 'movie-back.bin');
    assert.equal((await runValet(['download', 'users/alice/movie-cli.bin', ...as, '--out', back])).code, 0);
    assert.deepEqual(await readFile(back), movieData);
    assert.equal(await dev.stop('SIGTERM'), 0);
  });
});
