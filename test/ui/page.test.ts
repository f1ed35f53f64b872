// The demo page as a product, in Chromium at 1280x800 and 390x844: its states (signed out,
// loading, empty, expired session), the limits before a file is picked, thumbnails in a grid or a
// list, long names, feedback next to the action, delete that asks first, share links that stay
// copyable across reloads, sign out, and no axe violations. Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { deflateSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createClient } from '../../src/client/index.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { startValet } from '../helpers/storage.js';

const AXE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

interface Dev {
  web: string;
  issuer: string;
  dir: string;
  users: { alice: string; bob: string };
}

async function startDev(t: TestContext): Promise<Dev> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-page-'));
  const dev = await startValet(
    ['dev', '--port', '0', '--data', path.join(dir, 'data'), '--json', '--max-upload', '1MiB'],
    /^(\{.*\})\n/,
    t,
  );
  return { ...(JSON.parse(dev.url) as Omit<Dev, 'dir'>), dir };
}

/** A real PNG, width x height, a colour gradient. */
function png(width: number, height: number): Buffer {
  const crc = (buf: Buffer) => {
    let c = ~0;
    for (const byte of buf) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      rows.set([(x * 255) / width, (y * 255) / height, 160], y * (width * 3 + 1) + 1 + x * 3);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real WebM video, recorded in the browser from a canvas (no ffmpeg here). */
async function webm(page: Page): Promise<Buffer> {
  const base64 = await page.evaluate<string>(`(async () => {
    const canvas = Object.assign(document.createElement('canvas'), { width: 160, height: 120 });
    const g = canvas.getContext('2d');
    const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/webm' });
    const parts = [];
    recorder.ondataavailable = (e) => parts.push(e.data);
    const stopped = new Promise((r) => (recorder.onstop = r));
    recorder.start();
    for (let i = 0; i < 20; i++) {
      g.fillStyle = 'hsl(' + i * 18 + ' 70% 50%)';
      g.fillRect(0, 0, 160, 120);
      await new Promise((r) => setTimeout(r, 40));
    }
    recorder.stop();
    await stopped;
    const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
  })()`);
  return Buffer.from(base64, 'base64');
}

/**
 * Waits until `expression` is true in the page, polling from here: Playwright's waitForFunction
 * polls with an eval inside the page, which the page's CSP (no 'unsafe-eval') refuses.
 */
async function until(page: Page, expression: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await page.evaluate<boolean>(`Boolean(${expression})`))) {
    if (Date.now() > deadline) throw new Error(`not true in time: ${expression}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs axe on the page; fails on any violation, naming each. */
async function assertAccessible(page: Page, label: string): Promise<void> {
  // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays as it is.
  await page.evaluate(AXE);
  const violations = await page.evaluate<
    Array<{ id: string; help: string; nodes: Array<{ target: string[] }> }>
  >(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`,
  );
  assert.deepEqual(violations, [], `${label}: ${JSON.stringify(violations)}`);
}

/** Nothing is wider than the viewport (a long name must not widen the page). */
async function assertNoHorizontalScroll(page: Page): Promise<void> {
  const { scroll, view } = await page.evaluate<{ scroll: number; view: number }>(
    '({ scroll: document.documentElement.scrollWidth, view: window.innerWidth })',
  );
  const culprits = await page.evaluate<string[]>(`[...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 5).map((e) => e.tagName + '.' + e.className + '#' + e.id)`);
  assert.ok(scroll <= view, `the page is ${scroll} px wide in a ${view} px viewport: ${culprits.join(', ')}`);
}

async function newPage(
  browser: Browser,
  t: TestContext,
  viewport = DESKTOP,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  t.after(() => context.close());
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  t.after(() => assert.deepEqual(errors, [], 'no script error on the page'));
  return { context, page };
}

describe('the demo page as a product', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(() => browser?.close());

  it('says what is true signed out, shows limits before a pick, and thumbnails in a grid or a list', async (t) => {
    const dev = await startDev(t);
    const { page } = await newPage(browser, t);
    await page.goto(dev.web);
    await page.locator('#objects-state', { hasText: 'Sign in to see your objects.' }).waitFor();
    assert.equal(await page.locator('#limits').textContent(), 'Sign in to see what you may upload.');
    assert.ok(await page.locator('#files').isDisabled());
    await screenshot(page, 'page-1280x800-signed-out');
    await assertAccessible(page, 'signed out');

    await page.getByRole('button', { name: 'Sign in as alice' }).click();
    await page.locator('#who', { hasText: 'alice' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign in as alice' }).isVisible(), false);
    await page.locator('#objects-state', { hasText: 'No objects yet.' }).waitFor();
    await page
      .locator('#limits', { hasText: 'Files up to 1 MiB, of any type, go to users/alice/.' })
      .waitFor();
    assert.match(
      (await page.locator('#limits').textContent()) ?? '',
      /Each key works for 5 min\. You use 0 bytes in 0 objects \(no quota\)\.$/,
    );
    await screenshot(page, 'page-1280x800-empty');
    await assertAccessible(page, 'empty');

    const long = `${'a-very-long-file-name-'.repeat(11)}end.txt`;
    await writeFile(path.join(dev.dir, 'photo.png'), png(320, 240));
    await writeFile(path.join(dev.dir, 'clip.webm'), await webm(page));
    await writeFile(path.join(dev.dir, long), 'a text file with a long name\n');
    await page
      .locator('#files')
      .setInputFiles([
        path.join(dev.dir, 'photo.png'),
        path.join(dev.dir, 'clip.webm'),
        path.join(dev.dir, long),
      ]);
    for (const name of ['photo.png', 'clip.webm', long])
      await page.locator('#objects li', { has: page.locator(`.name[title="${name}"]`) }).waitFor();
    // Thumbnails: the image and the video's first frame, loaded from storage.
    await until(
      page,
      `document.querySelector('#objects li[data-key="users/alice/photo.png"] .thumb img')?.naturalWidth === 320`,
    );
    await until(
      page,
      `(document.querySelector('#objects li[data-key="users/alice/clip.webm"] .thumb video')?.readyState ?? 0) >= 1`,
    );
    assert.equal(
      await page.locator(`#objects li[data-key="users/alice/${long}"] .thumb`).textContent(),
      'TXT',
    );
    // The long name is cut, whole on hover (title) and on focus, and widens nothing.
    const name = page.locator(`.name[title="${long}"]`).first();
    const cut = await name.evaluate((n) => ({
      scroll: (n as unknown as { scrollWidth: number }).scrollWidth,
      client: (n as unknown as { clientWidth: number }).clientWidth,
    }));
    assert.ok(cut.scroll > cut.client, 'the long name is ellipsized');
    const before = (await name.boundingBox())?.height ?? 0;
    await name.focus();
    assert.ok(((await name.boundingBox())?.height ?? 0) > before * 2, 'focus shows the whole name');
    await assertNoHorizontalScroll(page);
    await page.locator('#objects-title').click();
    await page.evaluate(`document.getElementById('toasts').replaceChildren()`);
    await screenshot(page, 'page-1280x800-grid');
    await assertAccessible(page, 'grid');

    await page.getByRole('button', { name: 'List' }).click();
    assert.equal(await page.locator('#objects').getAttribute('class'), 'objects list');
    assert.equal(await page.getByRole('button', { name: 'List' }).getAttribute('aria-pressed'), 'true');
    await page.reload();
    await page.locator(`#objects li[data-key="users/alice/photo.png"]`).waitFor();
    assert.equal(
      await page.locator('#objects').getAttribute('class'),
      'objects list',
      'the view is remembered',
    );
    assert.equal(
      await page.locator('#objects li').first().locator('dt', { hasText: 'Modified' }).isVisible(),
      true,
    );
    await screenshot(page, 'page-1280x800-list');
    await assertAccessible(page, 'list');
  });

  it('answers next to each action: refusals in words, cancel, share, delete that asks, sign out, an ended session; on a phone too', async (t) => {
    const dev = await startDev(t);
    const { page } = await newPage(browser, t);
    await page.goto(dev.web);
    await page.getByRole('button', { name: 'Sign in as alice' }).click();
    await page.locator('#objects-state', { hasText: 'No objects yet.' }).waitFor();

    // A refusal, in words and units, on the file's own row and in a toast.
    await writeFile(path.join(dev.dir, 'big.bin'), Buffer.alloc(2 * 2 ** 20, 1));
    await page.locator('#files').setInputFiles(path.join(dev.dir, 'big.bin'));
    const refused = page.locator('#transfers li.failed', { hasText: 'big.bin' });
    await refused
      .locator('.detail', { hasText: 'The file (2 MiB) is larger than the 1 MiB limit.' })
      .waitFor();
    await page
      .locator('#toasts', { hasText: 'big.bin: The file (2 MiB) is larger than the 1 MiB limit.' })
      .waitFor();

    // Share: feedback next to the button, the link listed and copyable, also after a reload.
    await writeFile(path.join(dev.dir, 'photo.png'), png(64, 48));
    await page.locator('#files').setInputFiles(path.join(dev.dir, 'photo.png'));
    const card = page.locator('#objects li[data-key="users/alice/photo.png"]');
    await card.waitFor();
    await page.getByRole('button', { name: 'Share photo.png' }).click();
    await card.locator('.note', { hasText: 'Share link:' }).waitFor();
    await card.getByRole('textbox', { name: 'Share link to photo.png' }).waitFor();
    // Another upload redraws the list: the note stays, and so does the keyboard focus.
    await writeFile(path.join(dev.dir, 'second.txt'), 'second');
    await page.locator('#files').setInputFiles(path.join(dev.dir, 'second.txt'));
    await page.locator('#objects li[data-key="users/alice/second.txt"]').waitFor();
    await card.getByRole('textbox', { name: 'Share link to photo.png' }).waitFor();
    assert.equal(
      await page.evaluate<string | null>(`document.activeElement.getAttribute('aria-label')`),
      'Share photo.png',
    );
    const row = page.locator('#shares li', { hasText: 'photo.png' });
    const link = ((await row.locator('.link').textContent()) ?? '').trim();
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/s\//);
    await row.getByRole('button', { name: 'Copy link to photo.png' }).click();
    await page.locator('#toasts', { hasText: 'Link to photo.png copied.' }).waitFor();
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), link);
    await page.reload();
    await page.locator('#shares li .link', { hasText: link }).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Copy link to photo.png' }).isVisible());
    // A link made elsewhere (the CLI, another tab) says honestly why it cannot be copied here.
    await createClient({ issuer: dev.issuer, getToken: () => dev.users.alice }).share(
      'users/alice/photo.png',
      { ttl: 600 },
    );
    await page.reload();
    await page
      .locator('#shares li .link', { hasText: 'Not copyable here: the issuer keeps only a hash' })
      .waitFor();
    await screenshot(page, 'page-1280x800-shares');
    await assertAccessible(page, 'shares');

    // Delete asks first; Keep keeps; Delete deletes.
    await page.getByRole('button', { name: 'Delete photo.png' }).click();
    await page.getByRole('group', { name: 'Confirm deleting photo.png' }).waitFor();
    await screenshot(page, 'page-1280x800-confirm-delete');
    await page.getByRole('button', { name: 'Keep photo.png' }).click();
    assert.ok(await page.getByRole('button', { name: 'Delete photo.png' }).isVisible());
    await page.getByRole('button', { name: 'Delete photo.png' }).click();
    await page.getByRole('button', { name: 'Yes, delete photo.png' }).click();
    await card.waitFor({ state: 'detached' });
    await page.locator('#toasts', { hasText: 'Deleted photo.png.' }).waitFor();

    // Sign out: the signed-out page, and nothing of alice's left on it.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('#objects-state', { hasText: 'Sign in to see your objects.' }).waitFor();
    assert.equal(await page.locator('#transfers li').count(), 0);
    assert.equal(await page.evaluate<string | null>(`sessionStorage.getItem('valet-token')`), null);

    // A session that ended (here: a token the issuer no longer accepts) says so.
    await page.evaluate(
      `sessionStorage.setItem('valet-token', 'expired'); sessionStorage.setItem('valet-user', 'alice')`,
    );
    await page.reload();
    await page
      .locator('#objects-state', { hasText: 'Your session has ended. Sign in again to see your objects.' })
      .waitFor();
    assert.ok(await page.getByRole('button', { name: 'Sign in as alice' }).isVisible());
    await screenshot(page, 'page-1280x800-session-ended');
    await assertAccessible(page, 'session ended');

    // On a phone: one column, labelled fields, nothing wider than the screen.
    const phone = await newPage(browser, t, PHONE);
    await phone.page.goto(dev.web);
    await screenshot(phone.page, 'page-390x844-signed-out');
    await phone.page.getByRole('button', { name: 'Sign in as bob' }).click();
    await writeFile(path.join(dev.dir, 'bob.png'), png(200, 150));
    const long = `${'a-long-name-on-a-phone-'.repeat(9)}end.txt`;
    await writeFile(path.join(dev.dir, long), 'text');
    await phone.page
      .locator('#files')
      .setInputFiles([path.join(dev.dir, 'bob.png'), path.join(dev.dir, long)]);
    await phone.page.locator(`#objects li[data-key="users/bob/${long}"]`).waitFor();
    await until(
      phone.page,
      `document.querySelector('#objects li[data-key="users/bob/bob.png"] .thumb img')?.naturalWidth === 200`,
    );
    await phone.page.getByRole('button', { name: 'List' }).click();
    const fields = phone.page.locator('#objects li[data-key="users/bob/bob.png"] dt');
    assert.deepEqual(await fields.allTextContents(), ['Size', 'Type', 'Modified', 'SHA-256']);
    await assertNoHorizontalScroll(phone.page);
    await phone.page.evaluate(`document.getElementById('toasts').replaceChildren()`);
    await screenshot(phone.page, 'page-390x844-list');
    await assertAccessible(phone.page, 'phone');
  });
});
