// examples/next: the issuer in a Next.js app (App Router, one catch-all route file at
// /api/valet), built with `next build` and served by `next start` from the packed package; its
// page uploads from Chromium straight to storage.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { exampleApp, installed, roundTrip, started, storageFor } from './helpers.js';

describe('examples/next', () => {
  it('builds, serves, and uploads from its page in Chromium; the client works through it too', async (t) => {
    const dir = await exampleApp('next');
    const next = path.join(installed(), 'node_modules', '.bin', 'next');
    execFileSync(next, ['build'], {
      cwd: dir,
      stdio: 'pipe',
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    const { appPort, storageUrl } = await storageFor(t, dir, { basePath: '/api/valet', corsOrigin: true });
    await started(t, next, ['start', '-p', String(appPort), '-H', '127.0.0.1'], {
      cwd: dir,
      env: { STORAGE_URL: storageUrl, NEXT_TELEMETRY_DISABLED: '1' },
      ready: /Ready|started server|Local:/,
    });
    const origin = `http://127.0.0.1:${appPort}`;
    await roundTrip(`${origin}/api/valet`, 'bob');

    const browser = await launchChromium();
    t.after(() => browser.close());
    const page = await browser.newPage();
    await page.goto(origin);
    const file = path.join(dir, 'from-the-page.txt');
    await writeFile(file, 'uploaded from the page');
    await page.setInputFiles('input[type=file]', file);
    await page.locator('#status', { hasText: 'shared at' }).waitFor({ timeout: 30_000 });
    await screenshot(page, 'example-next');
    const status = (await page.locator('#status').textContent()) ?? '';
    assert.match(status, /stored users\/alice\/from-the-page\.txt/);
    const link = /shared at (\S+)/.exec(status)?.[1] as string;
    assert.equal(await (await fetch(link)).text(), 'uploaded from the page');
  });
});
