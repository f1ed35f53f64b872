// The demo page of `valet dev` in a real browser (Debian's chromium through playwright-core):
// uploads straight to storage on another origin (CORS), progress, refusals, cancel, downloads,
// previews and share links.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createClient } from '../../src/client/client.js';
import { emulateNetwork, launchChromium, screenshot } from '../helpers/browser.js';
import { EICAR, startClamd } from '../helpers/clamd.js';
import { startValet } from '../helpers/storage.js';
import { eventually } from '../helpers/system.js';

interface Dev {
  web: string;
  issuer: string;
  storage: string;
  dataDir: string;
  dir: string;
}

async function startDev(t: TestContext, maxUpload = '4MiB', extra: string[] = []): Promise<Dev> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-web-'));
  const dataDir = path.join(dir, 'data');
  const dev = await startValet(
    ['dev', '--port', '0', '--data', dataDir, '--json', '--max-upload', maxUpload, ...extra],
    /^(\{.*\})\n/,
    t,
  );
  const ready = JSON.parse(dev.url) as { web: string; issuer: string; storage: string };
  return { ...ready, dataDir, dir };
}

async function signIn(page: Page, dev: Dev, user: 'alice' | 'bob'): Promise<void> {
  await page.goto(dev.web);
  // The session lives in sessionStorage: a reload keeps it.
  if (!(await page.locator('#signed-in', { hasText: user }).isVisible()))
    await page.getByRole('button', { name: `Sign in as ${user}` }).click();
  await page.locator('#who', { hasText: user }).waitFor();
}

async function fileOf(dev: Dev, name: string, bytes: number): Promise<{ file: string; data: Buffer }> {
  const data = randomBytes(bytes);
  const file = path.join(dev.dir, name);
  await writeFile(file, data);
  return { file, data };
}

describe('the demo page in a real browser', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(() => browser?.close());

  it('uploads straight to storage with progress, lists, downloads, and keeps bob out', async (t) => {
    const dev = await startDev(t);
    const context = await browser.newContext({ acceptDownloads: true });
    t.after(() => context.close());
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (r) =>
      requests.push(`${r.method()} ${new URL(r.url()).origin}${new URL(r.url()).pathname}`),
    );
    await signIn(page, dev, 'alice');
    assert.notEqual(new URL(dev.storage).origin, new URL(dev.web).origin, 'storage is on another origin');

    const { file, data } = await fileOf(dev, 'photo.bin', 3 * 1024 * 1024);
    await page.locator('#files').setInputFiles(file);
    const row = page.locator('#transfers li', { hasText: 'photo.bin' });
    await row.locator('.detail', { hasText: '100%' }).waitFor();
    assert.equal(await row.locator('progress').evaluate((p) => (p as unknown as { value: number }).value), 1);
    const listed = page.locator('#objects li', { hasText: 'photo.bin' });
    await listed.waitFor();
    await screenshot(page, 'uploaded');
    // The bytes went to storage, not through the issuer: one PUT to the storage origin.
    assert.ok(
      requests.includes(`PUT ${new URL(dev.storage).origin}/o/users/alice/photo.bin`),
      requests.join('\n'),
    );
    assert.ok(!requests.some((r) => r.startsWith(`PUT ${new URL(dev.web).origin}`)));
    const pattern = (await page.locator('#pattern').textContent()) ?? '';
    assert.match(pattern, /To storage\s*3 MiB/);
    assert.match(pattern, /put users\/alice\/photo\.bin/);
    assert.ok(!pattern.includes('eyJ'), 'the panel never shows a token');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download photo.bin' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'photo.bin');
    assert.deepEqual(await readFile((await download.path()) as string), data);

    // Delete: gone from the list, and from storage.
    await page.getByRole('button', { name: 'Delete photo.bin' }).click();
    await page.getByRole('button', { name: 'Yes, delete photo.bin' }).click();
    await page.locator('#objects-state', { hasText: 'No objects yet.' }).waitFor();
    const gone = await fetch(`${dev.storage}/o/users/alice/photo.bin`);
    assert.equal(gone.status, 401, 'storage answers without a key, and the object is gone from the registry');

    const bob = await browser.newContext();
    t.after(() => bob.close());
    const bobPage = await bob.newPage();
    await signIn(bobPage, dev, 'bob');
    await bobPage.locator('#objects-state', { hasText: 'No objects yet.' }).waitFor();
    assert.equal(await bobPage.locator('#objects li').count(), 0);
    await screenshot(bobPage, 'bob-sees-nothing');
  });

  it('refuses a file over the limit with a readable message and stores nothing', async (t) => {
    const dev = await startDev(t, '1MiB');
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(dev.web);
    // Keyboard only: the sign-in buttons are reachable and work with Enter.
    await page.getByRole('button', { name: 'Sign in as alice' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('#who', { hasText: 'alice' }).waitFor();
    const { file } = await fileOf(dev, 'big.bin', 2 * 1024 * 1024);
    await page.locator('#files').setInputFiles(file);
    await page.locator('#toasts', { hasText: 'The file (2 MiB) is larger than the 1 MiB limit.' }).waitFor();
    await screenshot(page, 'refused');
    assert.equal(await page.locator('#objects li').count(), 0);
    assert.deepEqual(await readdir(path.join(dev.dataDir, 'storage', 'tmp')), []);
  });

  it('says that storage refusing the page by CORS is the likely cause, and the flag that fixes it', async (t) => {
    const dev = await startDev(t);
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    // The same page under another name for the host: an origin storage's --cors-origin lacks.
    const web = new URL(dev.web);
    const origin = `http://localhost:${web.port}`;
    await page.goto(`${origin}${web.pathname}`);
    await page.getByRole('button', { name: 'Sign in as alice' }).click();
    await page.locator('#who', { hasText: 'alice' }).waitFor();
    const { file } = await fileOf(dev, 'cors.txt', 10);
    await page.locator('#files').setInputFiles(file);
    await page
      .locator('#toasts', {
        hasText:
          `Could not reach storage at ${dev.storage}. If it is running, it refuses this page's origin ` +
          `(${origin}) by CORS: start storage with --cors-origin ${origin}.`,
      })
      .waitFor();
  });

  it('cancels an upload in flight and leaves nothing behind', async (t) => {
    const dev = await startDev(t, '64MiB');
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await signIn(page, dev, 'alice');
    // Slow the upload down so that it can be cancelled half-way (Chromium's network emulation).
    const network = await emulateNetwork(context, page);
    await network({ uploadThroughput: 512 * 1024 });
    const { file } = await fileOf(dev, 'slow.bin', 8 * 1024 * 1024);
    await page.locator('#files').setInputFiles(file);
    const row = page.locator('#transfers li', { hasText: 'slow.bin' });
    await row.locator('.detail', { hasText: /[1-9]\d*%/ }).waitFor();
    await row.getByRole('button', { name: 'Cancel' }).click();
    await row.locator('.detail', { hasText: 'Cancelled.' }).waitFor();
    // A cancel is not an error: the row says so without the error style.
    assert.equal(
      await row.evaluate((li) => (li as unknown as { className: string }).className),
      'transfer cancelled',
    );
    await screenshot(page, 'cancelled');
    await network({});
    // Storage notices the dropped connection and discards the partial upload.
    const deadline = Date.now() + 10_000;
    let left = await readdir(path.join(dev.dataDir, 'storage', 'tmp'));
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await readdir(path.join(dev.dataDir, 'storage', 'tmp'));
    }
    assert.deepEqual(left, []);
    // The file went as a resumable upload (8 MiB): cancelling terminated it at storage too.
    let uploads = await readdir(path.join(dev.dataDir, 'storage', 'uploads'));
    while (uploads.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      uploads = await readdir(path.join(dev.dataDir, 'storage', 'uploads'));
    }
    assert.deepEqual(uploads, []);
    await page.reload();
    await page.locator('#objects-state', { hasText: 'No objects yet.' }).waitFor();
    assert.equal(await page.locator('#objects li').count(), 0);
  });

  it('resumes a large upload after the page is reloaded mid-way, from localStorage', async (t) => {
    const dev = await startDev(t, '64MiB');
    const context = await browser.newContext({ acceptDownloads: true });
    t.after(() => context.close());
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await signIn(page, dev, 'alice');
    const network = await emulateNetwork(context, page);
    await network({ uploadThroughput: 1024 * 1024 });
    const { file, data } = await fileOf(dev, 'movie.bin', 12 * 1024 * 1024);
    await page.locator('#files').setInputFiles(file);
    const row = page.locator('#transfers li', { hasText: 'movie.bin' });
    await row.locator('.detail', { hasText: /\b([2-9]\d)%/ }).waitFor({ timeout: 30_000 });
    const remembered = await page.evaluate(() =>
      Object.keys((globalThis as unknown as { localStorage: object }).localStorage).filter((k) =>
        k.startsWith('valet-upload:'),
      ),
    );
    assert.equal(remembered.length, 1, 'the upload is remembered in localStorage');
    // The page goes away mid-upload.
    await page.reload();
    await network({});
    await signIn(page, dev, 'alice');
    await page.locator('#files').setInputFiles(file);
    await page
      .locator('#toasts', { hasText: /Resuming movie\.bin: [1-9][\d.]* [KM]iB of [\d.]+ MiB already stored/ })
      .waitFor();
    const again = page.locator('#transfers li', { hasText: 'movie.bin' });
    await again.locator('.detail', { hasText: '100%' }).waitFor();
    await screenshot(page, 'resumed');
    await page.locator('#objects li', { hasText: 'movie.bin' }).waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download movie.bin' }).click();
    const saved = await (await download).path();
    assert.deepEqual(await readFile(saved), data);
    assert.deepEqual(
      await page.evaluate(() =>
        Object.keys((globalThis as unknown as { localStorage: object }).localStorage).filter((k) =>
          k.startsWith('valet-upload:'),
        ),
      ),
      [],
      'forgotten once finished',
    );
    // Nothing asked of the browser that it refuses (unsafe headers, CORS, CSP); the one error
    // allowed is the request the reload cut.
    assert.deepEqual(
      consoleErrors.filter((e) => !/net::ERR_ABORTED|Failed to load resource: net::/.test(e)),
      [],
    );
  });

  it('previews images inline, shares a link that works in a fresh context, and revokes it', async (t) => {
    const dev = await startDev(t);
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await signIn(page, dev, 'alice');
    // A real 1×1 PNG.
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
      'base64',
    );
    const file = path.join(dev.dir, 'dot.png');
    await writeFile(file, png);
    await page.locator('#files').setInputFiles(file);
    await page.locator('#objects li', { hasText: 'dot.png' }).waitFor();
    // Drag and drop works too (a file dropped on the drop zone).
    await page.evaluate(`(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped text'], 'dropped.txt', { type: 'text/plain' }));
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true }));
    })()`);
    await page.locator('#objects li', { hasText: 'dropped.txt' }).waitFor();
    // A narrow screen still shows everything.
    await page.setViewportSize({ width: 360, height: 800 });
    await screenshot(page, 'narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('button', { name: 'Preview dot.png' }).click();
    const img = page.locator('#preview img');
    await img.waitFor();
    // Polled from here: waitForFunction would eval inside the page, which its CSP refuses.
    for (
      let i = 0;
      !(await page.evaluate<boolean>('document.querySelector("#preview img")?.complete === true'));
      i++
    ) {
      assert.ok(i < 600, 'the preview loads');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await img.evaluate((i) => (i as unknown as { naturalWidth: number }).naturalWidth), 1);

    await page.locator('#ttl').selectOption('3600');
    await page.getByRole('button', { name: 'Share dot.png' }).click();
    const shareRow = page.locator('#shares li', { hasText: 'dot.png' });
    await shareRow.waitFor();
    const link = ((await shareRow.locator('.link').textContent()) ?? '').trim();
    assert.match(link, /\/s\/[A-Za-z0-9_-]+$/);
    // The same link shows right under the object it shares, ready to copy.
    const card = page.locator('#objects li', { hasText: 'dot.png' });
    assert.equal(await card.getByRole('textbox', { name: 'Share link to dot.png' }).inputValue(), link);
    await card.getByRole('button', { name: 'Copy the share link to dot.png' }).waitFor();
    await screenshot(page, 'shared');

    const stranger = await browser.newContext();
    t.after(() => stranger.close());
    const other = await stranger.newPage();
    const opened = await other.goto(link);
    assert.equal(opened?.status(), 200);
    assert.deepEqual(await opened?.body(), png);

    await shareRow.getByRole('button', { name: 'Revoke the link to dot.png' }).click();
    await page.locator('#shares-state', { hasText: 'No share links.' }).waitFor();
    const dead = await other.goto(link);
    assert.equal(dead?.status(), 404);
    assert.match((await other.locator('h1').textContent()) ?? '', /Nothing here/);
    assert.ok(!(await other.content()).includes('{"error"'), 'a readable page, not JSON');
    await screenshot(other, 'revoked-link');
  });

  it('shows an upload as being checked until clamd passes it, and a virus rejected in words', async (t) => {
    const clamd = await startClamd(t);
    const dev = await startDev(t, '4MiB', ['--clamd', clamd.address]);
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await signIn(page, dev, 'alice');
    // clamd is down: the upload is stored, and stays "checking" (never readable) until it is back.
    await clamd.kill();
    const notes = path.join(dev.dir, 'notes.txt');
    await writeFile(notes, 'meeting notes\n');
    await page.locator('#files').setInputFiles(notes);
    const row = page.locator('#transfers li', { hasText: 'notes.txt' });
    await row.locator('.detail', { hasText: 'checking…' }).waitFor();
    await screenshot(page, 'checking');
    // Another tab lists it as being checked: no Download, no Share, only Delete.
    const other = await context.newPage();
    await signIn(other, dev, 'alice');
    const card = other.locator('#objects li', { hasText: 'notes.txt' });
    await card.locator('.note', { hasText: 'Checking…' }).waitFor();
    assert.equal(
      await card.getByRole('button', { name: 'Download notes.txt' }).count(),
      0,
      'nothing to read yet',
    );
    assert.equal(await card.getByRole('button', { name: 'Share notes.txt' }).count(), 0);
    assert.equal(await card.getByRole('button', { name: 'Delete notes.txt' }).count(), 1);
    await clamd.restart();
    await row
      .locator('.detail', { hasText: 'done, stored as users/alice/notes.txt' })
      .waitFor({ timeout: 60_000 });
    await page
      .locator('#objects li', { hasText: 'notes.txt' })
      .getByRole('button', { name: 'Download notes.txt' })
      .waitFor();

    const virus = path.join(dev.dir, 'eicar.com');
    await writeFile(virus, EICAR);
    await page.locator('#files').setInputFiles(virus);
    const refused = page.locator('#transfers li', { hasText: 'eicar.com' });
    await refused.locator('.detail', { hasText: 'ClamAV found Valet.Test.EICAR' }).waitFor();
    assert.equal(await page.locator('#objects li', { hasText: 'eicar.com' }).count(), 0);
  });

  it('asks before a name is overwritten, keeps both when asked, and lets toasts never block a click', async (t) => {
    const dev = await startDev(t);
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await signIn(page, dev, 'alice');
    const first = path.join(dev.dir, 'report.txt');
    await writeFile(first, 'first version');
    await page.locator('#files').setInputFiles(first);
    await page.locator('#objects li', { hasText: 'report.txt' }).waitFor();
    // The same name again: asked first; Skip stores nothing, Keep both stores a second name.
    await writeFile(first, 'second version');
    await page.locator('#files').setInputFiles(first);
    await page.getByRole('group', { name: 'report.txt exists already' }).waitFor();
    await screenshot(page, 'overwrite-question');
    await page.getByRole('button', { name: 'Skip report.txt' }).click();
    await page.locator('#files').setInputFiles(first);
    await page.getByRole('button', { name: 'Keep both copies of report.txt' }).click();
    await page.locator('#objects li', { hasText: 'report (2).txt' }).waitFor();
    const texts = async () => {
      const client = createClient({ issuer: dev.issuer, getToken: () => session });
      const read = async (key: string) => (await (await client.download(key)).blob()).text();
      return [await read('users/alice/report.txt'), await read('users/alice/report (2).txt')];
    };
    const session = await page.evaluate<string>("sessionStorage.getItem('valet-token')");
    assert.deepEqual(await texts(), ['first version', 'second version']);
    // Replace, when asked for, replaces.
    await writeFile(first, 'third version');
    await page.locator('#files').setInputFiles(first);
    await page.getByRole('button', { name: 'Replace report.txt' }).click();
    // Until the issuer has recorded the new version, storage already holds it for its check and
    // refuses to serve it (object_pending): ask again.
    const settled = () =>
      texts().catch((error: { code?: string }) => {
        if (error.code === 'object_pending') return undefined;
        throw error;
      });
    await eventually(async () => ((await settled())?.[0] === 'third version' ? true : undefined));
    assert.deepEqual(await texts(), ['third version', 'second version']);

    // Grid cards: every button on one line, two by two, inside the card.
    await page.setViewportSize({ width: 1280, height: 800 });
    const fits =
      await page.evaluate(`[...document.querySelectorAll('#objects.grid li .actions button')].every((b) =>
      b.scrollWidth <= b.clientWidth + 1 && b.getBoundingClientRect().height < 40 &&
      b.closest('li').getBoundingClientRect().right >= b.getBoundingClientRect().right)`);
    assert.equal(fits, true, 'no button wraps or overflows its card');

    // A toast over the Delete button does not take its click.
    const remove = page.getByRole('button', { name: 'Delete report (2).txt' });
    // The listing shows the replaced report.txt as being checked, then redraws it published: the
    // layout is final once the page's three uploads are done and nothing is being checked.
    await eventually(async () =>
      (await page.locator('#transfers li.done').count()) >= 3 &&
      (await page.locator('#objects li.checking').count()) === 0
        ? true
        : undefined,
    );
    const box = await eventually(async () => {
      await remove.scrollIntoViewIfNeeded().catch(() => {});
      return (await remove.boundingBox().catch(() => null)) ?? undefined;
    });
    await page.evaluate(`(() => {
      const region = document.getElementById('toasts');
      region.style.left = '${box.x - 10}px'; region.style.top = '${box.y - 10}px';
      region.style.right = 'auto'; region.style.bottom = 'auto';
    })()`);
    await page.locator('#toasts .toast').first().waitFor();
    assert.equal(
      await page.evaluate(
        `document.elementFromPoint(${box.x + box.width / 2}, ${box.y + box.height / 2})?.getAttribute('aria-label')`,
      ),
      'Delete report (2).txt',
    );
    await remove.click();
    await page.getByRole('button', { name: 'Yes, delete report (2).txt' }).click();
    await page.locator('#objects li', { hasText: 'report (2).txt' }).waitFor({ state: 'detached' });
  });
});
