import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { launchChromium, screenshot } from './browser.js';
import { tinyPng } from './files.js';
import { runValet } from './storage.js';

/** What `valet dev --json` prints once it is ready. */
export interface DevReady {
  issuer: string;
  storage: string;
  web: string;
  users: { alice: string };
}

/**
 * The CLI against a running `valet dev` on an engine, as on Valet storage: a file holding `text`
 * uploaded, listed, downloaded and shared. Returns the CLI's `--issuer … --token …` arguments.
 */
export async function devCli(
  ready: Pick<DevReady, 'issuer' | 'users'>,
  dir: string,
  text: string,
): Promise<string[]> {
  const as = ['--issuer', ready.issuer, '--token', ready.users.alice];
  const file = path.join(dir, 'doc.txt');
  await writeFile(file, text);
  const up = await runValet(['upload', file, ...as, '--json']);
  assert.equal(up.code, 0, up.stderr);
  assert.equal(JSON.parse(up.stdout).key, 'users/alice/doc.txt');
  const listed = (
    JSON.parse((await runValet(['ls', ...as, '--json'])).stdout) as { objects: Array<{ key: string }> }
  ).objects;
  assert.deepEqual(
    listed.map((o) => o.key),
    ['users/alice/doc.txt'],
  );
  const out = path.join(dir, 'back.txt');
  const down = await runValet(['download', 'users/alice/doc.txt', ...as, '--out', out]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(await readFile(out, 'utf8'), text);
  const shared = await runValet(['share', 'users/alice/doc.txt', ...as, '--ttl', '5m']);
  const link = shared.stdout.split('\n')[0] as string;
  assert.equal(await (await fetch(link)).text(), text);
  return as;
}

/**
 * The CLI and the demo page against a running `valet dev` on an engine, as on Valet storage:
 * {@link devCli}; then in Chromium, a picture uploaded and deleted, a 12 MiB file sent as a
 * resumable upload (from the page and from the CLI), no console errors. `size(key)` asks the
 * engine an object's size.
 */
export async function devCliAndPage(
  t: TestContext,
  ready: DevReady,
  options: { dir: string; text: string; shot: string; size: (key: string) => Promise<number | undefined> },
): Promise<void> {
  const { dir } = options;
  const as = await devCli(ready, dir, options.text);

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await page.goto(ready.web);
  await page.getByRole('button', { name: 'Sign in as alice' }).click();
  await page.locator('#objects li', { hasText: 'doc.txt' }).waitFor();
  const picture = path.join(dir, 'page.png');
  // A real PNG (valet dev checks every upload's true type), padded to a few hundred KiB.
  await writeFile(picture, Buffer.concat([tinyPng(), randomBytes(300_000)]));
  await page.locator('#files').setInputFiles(picture);
  await page.locator('#transfers li .detail', { hasText: '100%' }).waitFor();
  await page.locator('#objects li', { hasText: 'page.png' }).waitFor();
  await screenshot(page, options.shot);
  await page.getByRole('button', { name: 'Delete page.png' }).click();
  await page.getByRole('button', { name: 'Yes, delete page.png' }).click();
  await page.locator('#objects li', { hasText: 'page.png' }).waitFor({ state: 'detached' });
  // A large file goes as a resumable upload from the page (cross-origin to the engine) and from the CLI.
  const movie = path.join(dir, 'movie.bin');
  const movieData = randomBytes(12 * 2 ** 20 + 7);
  await writeFile(movie, movieData);
  await page.locator('#files').setInputFiles(movie);
  await page
    .locator('#transfers li', { hasText: 'movie.bin' })
    .locator('.detail', { hasText: '100%' })
    .waitFor();
  await page.locator('#objects li', { hasText: 'movie.bin' }).waitFor();
  assert.match((await page.locator('#pattern').textContent()) ?? '', /resumable=true/, 'a resumable key');
  assert.equal(await options.size('users/alice/movie.bin'), movieData.length);
  const cli = await runValet(['upload', movie, ...as, '--name', 'movie-cli.bin', '--json']);
  assert.equal(cli.code, 0, cli.stderr);
  const back = path.join(dir, 'movie-back.bin');
  assert.equal((await runValet(['download', 'users/alice/movie-cli.bin', ...as, '--out', back])).code, 0);
  assert.deepEqual(await readFile(back), movieData);
  assert.deepEqual(consoleErrors, [], 'no errors in the page console (CSP, CORS)');
}
