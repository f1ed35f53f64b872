// `valet dev --storage azure` against a real Azurite: the CLI and the demo page (in Chromium,
// uploading cross-origin to Azurite with the account's CORS) work as on Valet storage.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Azurite, azuriteContainer, startAzurite } from '../helpers/azurite.js';
import { type DevReady, devCliAndPage } from '../helpers/dev-flow.js';
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
    const ready = JSON.parse(dev.url) as DevReady;
    assert.equal(ready.storage, `${azurite.endpoint}/valet-dev`);
    await devCliAndPage(t, ready, {
      dir,
      text: 'stored in Azure',
      shot: 'azure-uploaded',
      size: async (key) => (await (await azuriteContainer(azurite, 'valet-dev')).head(key))?.size,
    });
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
