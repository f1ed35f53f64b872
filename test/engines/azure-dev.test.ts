// `valet dev --storage azure` against a real Azurite: the CLI and the demo page (in Chromium,
// uploading cross-origin to Azurite with the account's CORS) work as on Valet storage.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Azurite, azuriteContainer, startAzurite } from '../helpers/azurite.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { tinyPng } from '../helpers/files.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider } from '../helpers/oidc.js';
import { runValet, startValet } from '../helpers/storage.js';

describe('valet dev --storage azure, on Azurite', () => {
  let azurite: Azurite;
  before(async () => {
    azurite = await startAzurite();
  });
  after(() => azurite?.stop());

  it('needs a connection string, and says so', async () => {
    const run = await runValet(['dev', '--port', '0', '--storage', 'azure'], {
      env: { AZURE_STORAGE_CONNECTION_STRING: '' },
    });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /AZURE_STORAGE_CONNECTION_STRING/);
  });

  it('runs the CLI and the page the same way as on Valet storage', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-dev-azure-'));
    const dev = await startValet(
      [
        'dev',
        '--port',
        '0',
        '--data',
        path.join(dir, 'data'),
        '--json',
        '--storage',
        'azure',
        '--azure-container',
        'valet-dev',
      ],
      /^(\{.*\})\n/,
      t,
      { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
    );
    const ready = JSON.parse(dev.url) as {
      issuer: string;
      storage: string;
      web: string;
      users: { alice: string };
    };
    assert.equal(ready.storage, `${azurite.endpoint}/valet-dev`);
    const as = ['--issuer', ready.issuer, '--token', ready.users.alice];
    const file = path.join(dir, 'doc.txt');
    await writeFile(file, 'stored in Azure');
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
    assert.equal(await readFile(out, 'utf8'), 'stored in Azure');
    const shared = await runValet(['share', 'users/alice/doc.txt', ...as, '--ttl', '5m']);
    const link = shared.stdout.split('\n')[0] as string;
    assert.equal(await (await fetch(link)).text(), 'stored in Azure');

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
    await screenshot(page, 'azure-uploaded');
    await page.getByRole('button', { name: 'Delete page.png' }).click();
    await page.getByRole('button', { name: 'Yes, delete page.png' }).click();
    await page.locator('#objects li', { hasText: 'page.png' }).waitFor({ state: 'detached' });
    // A large file goes as blocks from the page (PUT cross-origin to Azurite) and from the CLI.
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
      'a resumable (block) key',
    );
    const container = await azuriteContainer(azurite, 'valet-dev');
    assert.equal((await container.head('users/alice/movie.bin'))?.size, movieData.length);
    const cli = await runValet(['upload', movie, ...as, '--name', 'movie-cli.bin', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const back = path.join(dir, 'movie-back.bin');
    assert.equal((await runValet(['download', 'users/alice/movie-cli.bin', ...as, '--out', back])).code, 0);
    assert.deepEqual(await readFile(back), movieData);
    assert.deepEqual(consoleErrors, [], 'no errors in the page console (CSP, CORS)');
    assert.equal(await dev.stop('SIGTERM'), 0);
  });
  it('runs valet issuer --config with an azure block', async (t) => {
    const provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
    const key = await testKey();
    const { dir, keyFile } = await keyFiles([key]);
    await writeFile(path.join(dir, 'storage.secret'), randomBytes(32).toString('base64url'), { mode: 0o600 });
    const config = {
      port: 0,
      azure: { container: 'valet-config' },
      signingKeys: [path.basename(keyFile(key))],
      storageSecretFile: 'storage.secret',
      database: 'issuer.sqlite',
      oidc: { issuer: provider.issuer, audience: 'urn:valet', algorithms: ['ES256'] },
      rules: {
        upload: { op: 'put', prefix: 'users/{subject}/', maxSize: '1MiB', accept: ['once', 'revocation'] },
        read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
      },
      logLevel: 'warn',
    };
    const configFile = path.join(dir, 'issuer.json');
    // One store per config.
    await writeFile(configFile, JSON.stringify({ ...config, storageUrl: 'http://127.0.0.1:9' }));
    const both = await runValet(['issuer', '--config', configFile]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /one store: storageUrl, s3, azure or gcs/);
    // A rule that does not accept what Azure cannot enforce is refused at start.
    await writeFile(
      configFile,
      JSON.stringify({ ...config, rules: { upload: { op: 'put', prefix: 'users/{subject}/' } } }),
    );
    const strict = await runValet(['issuer', '--config', configFile], {
      env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
    });
    assert.notEqual(strict.code, 0);
    assert.match(strict.stderr, /cannot enforce/);
    await writeFile(configFile, JSON.stringify(config));
    await azuriteContainer(azurite, 'valet-config');
    const issuer = await startValet(['issuer', '--config', configFile], /listening on (http:\/\/\S+)/, t, {
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    });
    const auth = ['--issuer', issuer.url, '--token', await provider.token('alice')];
    const file = path.join(dir, 'note.txt');
    await writeFile(file, 'through the config file');
    const up = await runValet(['upload', file, ...auth, '--json']);
    assert.equal(up.code, 0, up.stderr);
    const out = path.join(dir, 'back.txt');
    assert.equal((await runValet(['download', 'users/alice/note.txt', ...auth, '--out', out])).code, 0);
    assert.equal(await readFile(out, 'utf8'), 'through the config file');
    const blob = await (await azuriteContainer(azurite, 'valet-config')).head('users/alice/note.txt');
    assert.equal(blob?.size, 'through the config file'.length, 'the blob is in the configured container');
    assert.equal(await issuer.stop('SIGTERM'), 0);
  });
});
