// examples/next: the issuer in a Next.js app (App Router, one catch-all route file at
// /api/valet), built with `next build` and served by `next start` from the packed package; its
// page uploads from Chromium straight to storage.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { ROOT } from '../helpers/storage.js';
import { exampleApp, installed, installedClient, roundTrip, started, storageFor } from './helpers.js';

describe('examples/next', () => {
  it('builds, serves, and uploads from its page in Chromium; the client works through it too', async (t) => {
    const dir = await exampleApp('next');
    const next = path.join(installed(), 'node_modules', '.bin', 'next');
    execFileSync(next, ['build'], {
      cwd: dir,
      stdio: 'pipe',
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    // The tsconfig shipped is the one Next 16 wants: the build leaves it as it is.
    const shipped = JSON.parse(await readFile(path.join(ROOT, 'examples/next/tsconfig.json'), 'utf8'));
    assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'tsconfig.json'), 'utf8')), shipped);
    const { appPort, storageUrl } = await storageFor(t, dir, { basePath: '/api/valet', corsOrigin: true });
    await started(t, next, ['start', '-p', String(appPort), '-H', '127.0.0.1'], {
      cwd: dir,
      env: { STORAGE_URL: storageUrl, NEXT_TELEMETRY_DISABLED: '1', TRUST_PROXY: '1' },
      ready: /Ready|started server|Local:/,
    });
    const origin = `http://127.0.0.1:${appPort}`;
    await roundTrip(`${origin}/api/valet`, 'bob');
    // Share links name the host the request was addressed to, or the one a trusted proxy forwards.
    const shareVia = async (base: string, headers: Record<string, string> = {}) => {
      const { createClient } = await installedClient();
      const client = createClient({ issuer: `${base}/api/valet`, getToken: () => 'carol' });
      const { key } = await client.upload(new Blob(['linked']), { name: 'linked.txt' });
      const answer = await fetch(`${base}/api/valet/v1/shares`, {
        method: 'POST',
        headers: { authorization: 'Bearer carol', 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ key, ttl: 60 }),
      });
      return ((await answer.json()) as { url: string }).url;
    };
    assert.ok(
      (await shareVia(`http://localhost:${appPort}`)).startsWith(`http://localhost:${appPort}/api/valet/s/`),
    );
    assert.ok(
      (
        await shareVia(origin, { 'x-forwarded-host': 'files.example.com', 'x-forwarded-proto': 'https' })
      ).startsWith('https://files.example.com/api/valet/s/'),
    );

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
