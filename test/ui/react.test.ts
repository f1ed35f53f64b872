// valet/react in Chromium: a small React page (test/ui/pages/react.tsx, bundled with esbuild)
// uses the DropZone and the useUpload hook against Valet storage: choose and drop a file,
// progress and cancel, a refusal in words, and the hook's states in order; and useUploads' queue.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Rule } from '../../src/issuer/rules.js';
import { emulateNetwork, launchChromium, screenshot } from '../helpers/browser.js';
import { gate } from '../helpers/gate.js';
import { OWNER_RULES, startSystem, type TestSystem } from '../helpers/system.js';
import { servePage } from '../helpers/ui-page.js';

const MiB = 2 ** 20;
const RULES: Record<string, Rule> = {
  ...OWNER_RULES,
  small: { op: 'put', prefix: 'users/{subject}/', maxSize: MiB },
};

async function sha256Of(system: TestSystem, key: string): Promise<string> {
  const download = await system.client('alice').download(key);
  const bytes = Buffer.from(await (await download.blob()).arrayBuffer());
  return createHash('sha256').update(bytes).digest('hex');
}

async function openPage(browser: Browser, t: TestContext, url: string, uploadRate?: number): Promise<Page> {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  t.after(() => assert.deepEqual(errors, [], 'no error in the page'));
  if (uploadRate) await (await emulateNetwork(context, page))({ uploadThroughput: uploadRate });
  await page.goto(url);
  return page;
}

/** Storage and an issuer serving the React page, for one test. */
async function serve(t: TestContext): Promise<{ system: TestSystem; url: string }> {
  const system = await startSystem(t, { storageArgs: ['--cors-origin', '*'], issuer: { rules: RULES } });
  return { system, url: await servePage(system.served, system.issuer, { entry: 'react.tsx' }) };
}

describe('valet/react in Chromium', () => {
  let browser: Browser;
  let dir: string;
  before(async () => {
    browser = await launchChromium();
    dir = await mkdtemp(path.join(tmpdir(), 'valet-react-'));
  });
  after(() => browser?.close());

  it('says the upload is being checked while its rule validates it, then the verdict in words', async (t) => {
    const held = gate((object) =>
      object.object.endsWith('bad.txt') ? { reject: 'the app refuses this file' } : { ok: true },
    );
    const checked: Rule = {
      op: 'put',
      prefix: 'users/{subject}/',
      maxSize: MiB,
      validate: [held.hook],
    };
    const system = await startSystem(t, {
      storageArgs: ['--cors-origin', '*'],
      issuer: { rules: { ...RULES, checked } },
    });
    const url = await servePage(system.served, system.issuer, { entry: 'react.tsx' });
    const page = await openPage(browser, t, `${url}?rule=checked`);
    await writeFile(path.join(dir, 'good.txt'), 'good words\n');
    await page.getByLabel('Drop a file here, or choose one').setInputFiles(path.join(dir, 'good.txt'));
    await page.getByRole('status').filter({ hasText: 'Checking good.txt…' }).waitFor();
    assert.equal(await page.locator('fieldset').first().getAttribute('data-state'), 'checking');
    await screenshot(page, 'react-checking');
    held.open();
    await page.getByRole('status').filter({ hasText: 'Uploaded good.txt' }).waitFor();
    await writeFile(path.join(dir, 'bad.txt'), 'bad words\n');
    await page.getByLabel('Drop a file here, or choose one').setInputFiles(path.join(dir, 'bad.txt'));
    await page.getByRole('status').filter({ hasText: 'bad.txt was rejected.' }).waitFor();
    assert.match(
      (await page.getByRole('alert').textContent()) ?? '',
      /rejected and removed: the app refuses this file/,
    );
  });

  it('uploads a chosen or dropped file, and the hook goes idle, uploading, done', async (t) => {
    const { system, url } = await serve(t);

    // Chosen with the file input: uploaded, said in words and units, stored whole.
    const page = await openPage(browser, t, url);
    const data = randomBytes(1536);
    await writeFile(path.join(dir, 'hello.bin'), data);
    await page.getByLabel('Drop a file here, or choose one').setInputFiles(path.join(dir, 'hello.bin'));
    await page
      .getByRole('status')
      .filter({ hasText: 'Uploaded hello.bin (1.5 KiB) as users/alice/hello.bin' })
      .waitFor();
    assert.equal(
      await sha256Of(system, 'users/alice/hello.bin'),
      createHash('sha256').update(data).digest('hex'),
    );
    assert.deepEqual(await page.evaluate(() => (globalThis as unknown as { uploaded: string[] }).uploaded), [
      'users/alice/hello.bin',
    ]);

    // Dropped on the zone.
    // (A page script: DataTransfer and DragEvent exist there, not in this process.)
    await page.evaluate(`{
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped text'], 'dropped.txt', { type: 'text/plain' }));
      const drop = new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true });
      document.querySelector('fieldset').dispatchEvent(drop);
    }`);
    await page
      .getByRole('status')
      .filter({ hasText: 'Uploaded dropped.txt (12 bytes) as users/alice/dropped.txt' })
      .waitFor();
    await screenshot(page, 'react-drop-zone-done');

    // The hook: idle, uploading with growing progress, done with the key; in that order.
    await page.getByRole('button', { name: 'Upload probe' }).click();
    await page.locator('output', { hasText: 'done' }).waitFor();
    const states = await page.evaluate(
      () =>
        (
          globalThis as unknown as {
            states: Array<{ status: string; progress: { loaded: number } | null; key?: string }>;
          }
        ).states,
    );
    assert.equal(states[0]?.status, 'idle');
    const uploading = states.filter((s) => s.status === 'uploading').map((s) => s.progress?.loaded ?? -1);
    assert.ok(uploading.length >= 2, JSON.stringify(states));
    assert.deepEqual(
      [...uploading].sort((a, b) => a - b),
      uploading,
      'progress only grows',
    );
    assert.deepEqual(states.at(-1), {
      status: 'done',
      progress: states.at(-1)?.progress,
      key: 'users/alice/probe.bin',
    });
    assert.equal(states.at(-1)?.progress?.loaded, 3 * MiB);
  });

  it('shows progress and cancels: the upload is ended at storage, nothing kept', async (t) => {
    const { system, url } = await serve(t);
    const page = await openPage(browser, t, url, 4 * MiB);
    const deletes: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'DELETE') deletes.push(r.url());
    });
    await writeFile(path.join(dir, 'big.bin'), randomBytes(12 * MiB));
    await page.getByLabel('Drop a file here, or choose one').setInputFiles(path.join(dir, 'big.bin'));
    const bar = page.getByRole('progressbar', { name: 'Uploading big.bin' });
    await bar.waitFor();
    const deadline = Date.now() + 30_000;
    while (Number(await bar.getAttribute('value')) < 2 * MiB) {
      assert.ok(Date.now() < deadline, 'progress grows');
      await new Promise((r) => setTimeout(r, 50));
    }
    await screenshot(page, 'react-drop-zone-uploading');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancelled big.bin; nothing was kept.' }).waitFor();
    for (let i = 0; i < 100 && deletes.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(deletes.length, 1);
    assert.ok(deletes[0]?.startsWith(system.storage.url));
    const listed = await system.client('alice').list();
    assert.ok(!listed.some((o) => o.key === 'users/alice/big.bin'));
  });

  it('queues many files with useUploads: two at a time, each with its state, one cancelled', async (t) => {
    const { system, url } = await serve(t);
    const page = await openPage(browser, t, url, 8 * MiB);
    const files: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const file = path.join(dir, `q${i}.bin`);
      await writeFile(file, randomBytes(3 * MiB));
      files.push(file);
    }
    await page.getByLabel('Queue files').setInputFiles(files);
    const queue = page.getByRole('region', { name: 'queue' });
    // Two at a time: the fifth waits, and is cancelled before it starts.
    await queue.locator('li[data-status="uploading"]').nth(1).waitFor();
    assert.equal(await queue.locator('li', { hasText: 'q5.bin: queued' }).count(), 1);
    await page.getByRole('button', { name: 'Cancel q5.bin' }).click();
    await queue.locator('li', { hasText: 'q5.bin: cancelled' }).waitFor();
    for (const n of [1, 2, 3, 4]) {
      await queue
        .locator('li', { hasText: `q${n}.bin: done as users/alice/q${n}.bin` })
        .waitFor({ timeout: 60_000 });
    }
    await screenshot(page, 'react-queue');
    assert.equal(
      await page.evaluate(
        () => (globalThis as unknown as { queue: { mostRunning: number } }).queue.mostRunning,
      ),
      2,
    );
    await page.getByRole('status', { name: 'queue progress' }).filter({ hasText: 'idle' }).waitFor();
    const listed = (await system.client('alice').list())
      .map((o) => o.key)
      .filter((k) => /\/q\d\.bin$/.test(k));
    assert.deepEqual(listed.sort(), [
      'users/alice/q1.bin',
      'users/alice/q2.bin',
      'users/alice/q3.bin',
      'users/alice/q4.bin',
    ]);
  });

  it('says a refusal in words, as an alert', async (t) => {
    const { url } = await serve(t);
    const page = await openPage(browser, t, `${url}?rule=small`);
    await writeFile(path.join(dir, 'two.bin'), randomBytes(2 * MiB));
    await page.getByLabel('Drop a file here, or choose one').setInputFiles(path.join(dir, 'two.bin'));
    await page
      .getByRole('alert')
      .filter({ hasText: 'the file (2 MiB) is larger than the 1 MiB limit' })
      .waitFor();
    assert.equal(await page.getByRole('status').first().textContent(), 'Could not upload two.bin.');
    await screenshot(page, 'react-drop-zone-refused');
  });
});
