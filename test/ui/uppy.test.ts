// valet/uppy in Chromium: Uppy's Dashboard uploads through the plugin to Valet storage (tus) and
// to Ceph (S3 multipart). A 30 MiB file is paused, resumed, cut off (the browser goes offline)
// and resumed again, and arrives whole without starting over; a refusal shows Valet's message.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createClient } from '../../src/client/index.js';
import { createIssuer } from '../../src/issuer/issuer.js';
import type { Rule } from '../../src/issuer/rules.js';
import { emulateNetwork, launchChromium, screenshot } from '../helpers/browser.js';
import { type Ceph, cephBucket, startCeph } from '../helpers/ceph.js';
import { gate } from '../helpers/gate.js';
import { testKey } from '../helpers/keys.js';
import { OWNER_RULES, serveIssuer, startSystem, userAuth } from '../helpers/system.js';
import { servePage } from '../helpers/ui-page.js';

const RULES: Record<string, Rule> = {
  ...OWNER_RULES,
  small: { op: 'put', prefix: 'users/{subject}/', maxSize: 2 ** 20 },
};
const CSS = ['@uppy/core/dist/style.min.css', '@uppy/dashboard/dist/style.min.css'];
const MiB = 2 ** 20;

interface UppyFileState {
  id: string;
  error?: string | null;
  isPaused?: boolean;
  progress: { bytesUploaded: number | false; uploadComplete?: boolean };
  response?: { body?: { key: string; sha256: string | null } };
}

/** The page's only Uppy file, as Uppy's state has it. */
function file(page: Page): Promise<UppyFileState> {
  return page.evaluate(() => {
    const uppy = (globalThis as unknown as { uppy: { getFiles(): unknown[] } }).uppy;
    return JSON.parse(JSON.stringify(uppy.getFiles()[0]));
  });
}

async function until(page: Page, what: string, check: (f: UppyFileState) => boolean, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const state = await file(page);
    if (check(state)) return state;
    if (Date.now() > deadline) throw new Error(`${what}: not reached; file is ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const uploaded = (f: UppyFileState) => (f.progress.bytesUploaded === false ? 0 : f.progress.bytesUploaded);

/**
 * Adds a 30 MiB file in the Dashboard, uploads it at 8 MiB/s, pauses, resumes, goes offline
 * until Uppy shows the error, comes back and retries; returns the result and the file's SHA-256.
 */
async function pauseResumeCut(browser: Browser, t: TestContext, url: string, name: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-uppy-'));
  const data = randomBytes(30 * MiB);
  const source = path.join(dir, name);
  await writeFile(source, data);
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const emulate = await emulateNetwork(context, page);
  const network = (offline: boolean) => emulate({ offline, uploadThroughput: 8 * MiB });
  await network(false);
  const sent: Array<{ method: string; url: string; offset?: string }> = [];
  const renewals: string[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(new URL(url).origin)) {
      if (r.url().endsWith('/v1/keys') && /"upload":/.test(r.postData() ?? '')) renewals.push(r.url());
      return;
    }
    sent.push({
      method: r.method(),
      url: r.url(),
      ...(r.headers()['upload-offset'] && { offset: r.headers()['upload-offset'] }),
    });
  });
  await page.goto(url);
  await page.locator('.uppy-Dashboard-input').first().setInputFiles(source);
  await page.getByRole('button', { name: 'Upload 1 file' }).click();

  const before = uploaded(await until(page, 'a third sent', (f) => uploaded(f) > 10 * MiB));
  await page.getByRole('button', { name: 'Pause upload' }).click();
  await new Promise((r) => setTimeout(r, 300));
  const paused = uploaded(await file(page));
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(uploaded(await file(page)), paused, 'no progress while paused');
  assert.ok(paused >= before);
  await screenshot(page, `uppy-${name}-paused`);
  const sentBeforeResume = sent.length;
  await page.getByRole('button', { name: 'Resume upload' }).click();

  await until(page, 'two thirds sent', (f) => uploaded(f) > 20 * MiB);
  await network(true);
  const failed = await until(page, 'the cut shown as an error', (f) => Boolean(f.error));
  await screenshot(page, `uppy-${name}-cut`);
  assert.ok(failed.error);
  await network(false);
  await page
    .getByRole('button', { name: /^Retry/ })
    .first()
    .click();
  const done = await until(page, 'the upload done', (f) => f.progress.uploadComplete === true);
  await screenshot(page, `uppy-${name}-done`);
  return {
    body: done.response?.body as { key: string; sha256: string | null },
    sha256: createHash('sha256').update(data).digest('hex'),
    sent,
    sentBeforeResume,
    renewals: renewals.length,
    page,
  };
}

/** A refusal (a file over the `small` rule's 1 MiB) shows Valet's message in Uppy. */
async function refusalShown(browser: Browser, t: TestContext, url: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-uppy-'));
  const source = path.join(dir, 'too-big.bin');
  await writeFile(source, randomBytes(2 * MiB));
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${url}?rule=small`);
  await page.locator('.uppy-Dashboard-input').first().setInputFiles(source);
  await page.getByRole('button', { name: 'Upload 1 file' }).click();
  const failed = await until(page, 'the refusal', (f) => Boolean(f.error));
  await screenshot(page, 'uppy-refusal');
  return { error: failed.error as string, page };
}

/** Cancelling mid-upload ends the upload at storage (tus DELETE) and forgets it in the browser. */
async function cancelled(browser: Browser, t: TestContext, url: string) {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-uppy-'));
  const source = path.join(dir, 'cancelled.bin');
  await writeFile(source, randomBytes(30 * MiB));
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await (await emulateNetwork(context, page))({ uploadThroughput: 8 * MiB });
  const deletes: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'DELETE') deletes.push(r.url());
  });
  await page.goto(url);
  await page.locator('.uppy-Dashboard-input').first().setInputFiles(source);
  await page.getByRole('button', { name: 'Upload 1 file' }).click();
  await until(page, 'some sent', (f) => uploaded(f) > 5 * MiB);
  await page.locator('.uppy-StatusBar-actionCircleBtn[aria-label="Cancel"]').click();
  const deadline = Date.now() + 10_000;
  while (deletes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // The client forgets the upload once storage has answered the DELETE.
  let remembered = '';
  for (let i = 0; i < 100; i++) {
    remembered = await page.evaluate<string>('JSON.stringify(localStorage)');
    if (!remembered.includes('cancelled.bin')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    deletes,
    remembered,
    files: await page.evaluate(
      () => (globalThis as unknown as { uppy: { getFiles(): unknown[] } }).uppy.getFiles().length,
    ),
  };
}

describe('valet/uppy in Chromium with the Dashboard', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(() => browser?.close());

  it('uploads to Valet storage over tus: paused, resumed, cut off and resumed; refusals in words', async (t) => {
    // Keys for 2 s: the upload outlives many of them, the plugin's client renews them as it goes.
    const rules = { ...RULES, upload: { ...RULES.upload, ttl: 2 } as Rule };
    const system = await startSystem(t, { storageArgs: ['--cors-origin', '*'], issuer: { rules } });
    const url = await servePage(system.served, system.issuer, { entry: 'uppy.ts', css: CSS });
    const run = await pauseResumeCut(browser, t, url, 'tus.bin');
    // One tus upload, created once: every later request continued it from where storage was.
    const creations = run.sent.filter((r) => r.method === 'POST');
    assert.equal(creations.length, 1, JSON.stringify(run.sent));
    const resumedAt = run.sent.slice(run.sentBeforeResume).find((r) => r.method === 'PATCH');
    assert.ok(Number(resumedAt?.offset) > 0, 'resumed where storage was, not from 0');
    assert.ok(run.renewals >= 5, `keys renewed along the way (${run.renewals})`);
    assert.equal(run.body.sha256, run.sha256);
    const download = await system.client('alice').download(run.body.key);
    const stored = Buffer.from(await (await download.blob()).arrayBuffer());
    assert.equal(createHash('sha256').update(stored).digest('hex'), run.sha256);

    const refused = await refusalShown(browser, t, url);
    assert.equal(refused.error, 'the file (2 MiB) is larger than the 1 MiB limit');
    // The Dashboard shows it on the file's error button; pressing it reads it out.
    let shown = '';
    refused.page.once('dialog', (dialog) => {
      shown = dialog.message();
      void dialog.dismiss();
    });
    await refused.page.getByRole('button', { name: refused.error }).click();
    assert.equal(shown, refused.error);

    const cancel = await cancelled(browser, t, url);
    assert.equal(cancel.files, 0);
    assert.equal(cancel.deletes.length, 1, 'the tus upload is terminated at storage');
    assert.ok(cancel.deletes[0]?.startsWith(system.storage.url));
    assert.doesNotMatch(cancel.remembered, /cancelled\.bin|"protocol"/, 'and forgotten');
  });

  it('shows "Checking…" while the rule validates the upload, then success or the reason', async (t) => {
    const held = gate((object) =>
      object.object.endsWith('bad.bin') ? { reject: 'the app refuses this file' } : { ok: true },
    );
    const checked: Rule = {
      op: 'put',
      prefix: 'users/{subject}/',
      validate: [held.hook],
    };
    const system = await startSystem(t, {
      storageArgs: ['--cors-origin', '*'],
      issuer: { rules: { ...RULES, checked } },
    });
    const url = await servePage(system.served, system.issuer, { entry: 'uppy.ts', css: CSS });
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(`${url}?rule=checked`);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-uppy-'));
    await writeFile(path.join(dir, 'good.bin'), randomBytes(1000));
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(path.join(dir, 'good.bin'));
    await page.getByRole('button', { name: 'Upload 1 file' }).click();
    type Checked = UppyFileState & { progress: { postprocess?: { message?: string } } };
    const checking = (await until(
      page,
      'checking',
      (f) => (f as Checked).progress.postprocess !== undefined,
    )) as Checked;
    assert.match(checking.progress.postprocess?.message ?? '', /^Checking…/);
    assert.notEqual(checking.progress.uploadComplete, true, 'not done while it is being checked');
    held.open();
    await until(page, 'published', (f) => f.progress.uploadComplete === true);
    await page.evaluate(`window.uppy.clear()`);
    await writeFile(path.join(dir, 'bad.bin'), randomBytes(1000));
    await page.locator('.uppy-Dashboard-input').first().setInputFiles(path.join(dir, 'bad.bin'));
    await page.getByRole('button', { name: 'Upload 1 file' }).click();
    const rejected = await until(page, 'rejected', (f) => Boolean(f.error));
    assert.match(rejected.error ?? '', /rejected and removed: the app refuses this file/);
  });

  describe('on Ceph', () => {
    let ceph: Ceph;
    before(async () => {
      ceph = await startCeph();
    });
    after(() => ceph?.stop());

    it('uploads to Ceph as S3 multipart: paused, resumed, cut off and resumed', async (t) => {
      const s3 = await cephBucket(ceph, 'valet-uppy');
      const served = await serveIssuer(t);
      await s3.allowOrigins([served.url]);
      const issuer = await createIssuer({
        signingKeys: [(await testKey()).jwk],
        database: ':memory:',
        driver: s3,
        storageSecret: 's'.repeat(43),
        authenticate: userAuth,
        // Ceph cannot check single use or revocation on its own: the rules accept that.
        rules: Object.fromEntries(
          Object.entries(RULES).map(([name, rule]) => [name, { ...rule, accept: ['once', 'revocation'] }]),
        ),
      });
      t.after(() => issuer.close());
      const url = await servePage(served, issuer, { entry: 'uppy.ts', css: CSS });
      const run = await pauseResumeCut(browser, t, url, 's3.bin');
      // One multipart upload: its first part went once, whatever happened after.
      const parts = run.sent.filter((r) => r.method === 'PUT').map((r) => new URL(r.url).searchParams);
      assert.equal(new Set(parts.map((p) => p.get('uploadId'))).size, 1, JSON.stringify(run.sent));
      assert.equal(parts.filter((p) => p.get('partNumber') === '1').length, 1);
      const client = createClient({ issuer: served.url, getToken: () => 'user:alice' });
      const stored = Buffer.from(await (await (await client.download(run.body.key)).blob()).arrayBuffer());
      assert.equal(createHash('sha256').update(stored).digest('hex'), run.sha256);

      // A small file goes to Ceph in one presigned PUT (no multipart), through the same plugin.
      const small = randomBytes(200 * 1024);
      const dir = await mkdtemp(path.join(tmpdir(), 'valet-uppy-'));
      await writeFile(path.join(dir, 'small.bin'), small);
      const page = run.page;
      const puts: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'PUT') puts.push(r.url());
      });
      await page.evaluate(`window.uppy.clear()`);
      await page.locator('.uppy-Dashboard-input').first().setInputFiles(path.join(dir, 'small.bin'));
      await page.getByRole('button', { name: 'Upload 1 file' }).click();
      const done = await until(page, 'the small upload done', (f) => f.progress.uploadComplete === true);
      assert.equal(puts.length, 1);
      assert.equal(new URL(puts[0] as string).searchParams.get('uploadId'), null, 'a single PUT');
      const back = Buffer.from(
        await (await (await client.download(done.response?.body?.key as string)).blob()).arrayBuffer(),
      );
      assert.deepEqual(back, small);
    });
  });
});
