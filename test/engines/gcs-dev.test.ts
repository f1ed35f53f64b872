// `valet dev --storage gcs` and `valet issuer --config` with a `gcs` block, against A STAND-IN FOR
// GCS THAT THESE TESTS WRITE (test/helpers/gcs-standin.ts; no emulator here verifies V4
// signatures, and no live GCS is reached): the CLI and the demo page (in Chromium, uploading
// cross-origin with the bucket's CORS and a resumable session started for the page's origin)
// work as on Valet storage.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GcsDriver } from '../../src/drivers/gcs/index.js';
import { type DevReady, devCliAndPage } from '../helpers/dev-flow.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-standin.js';
import { trustOf } from '../helpers/gcs-standin-auth.js';
import { dummyAccount, VECTORS_DIR } from '../helpers/gcs-vectors.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider } from '../helpers/oidc.js';
import { runValet, startValet } from '../helpers/storage.js';

/** The dummy service account's JSON key file (Google's conformance vectors are signed with it). */
const KEY_FILE = path.join(VECTORS_DIR, 'service-account');

describe('valet dev --storage gcs (a test-written stand-in, not GCS)', () => {
  const account = dummyAccount();
  let gcs: GcsStandIn;
  let bucket: GcsDriver;
  before(async () => {
    gcs = await startGcsStandIn(trustOf(account.client_email, account.private_key), 'valet-dev');
    bucket = new GcsDriver({ bucket: 'valet-dev', endpoint: gcs.endpoint, credentials: account });
  });
  after(() => gcs?.close());

  it('needs a service account key or an HMAC key, and says which', async () => {
    const args = ['dev', '--port', '0', '--storage', 'gcs', '--gcs-bucket', 'valet-dev'];
    const none = await runValet(args, { env: { GOOGLE_APPLICATION_CREDENTIALS: '' } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /GOOGLE_APPLICATION_CREDENTIALS naming a service account's JSON key file/);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-dev-gcs-key-'));
    const user = path.join(dir, 'adc.json');
    await writeFile(user, JSON.stringify({ type: 'authorized_user', client_id: 'x', refresh_token: 'y' }));
    const wrong = await runValet(args, { env: { GOOGLE_APPLICATION_CREDENTIALS: user } });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /is not a service account key \(type "authorized_user"\)/);
    const noBucket = await runValet(['dev', '--port', '0', '--storage', 'gcs'], {
      env: { GOOGLE_APPLICATION_CREDENTIALS: KEY_FILE },
    });
    assert.match(noBucket.stderr, /--storage gcs needs --gcs-bucket NAME/);
    const missing = await runValet([...args.slice(0, -1), 'no-such-bucket', '--gcs-endpoint', gcs.endpoint], {
      env: { GOOGLE_APPLICATION_CREDENTIALS: KEY_FILE },
    });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no-such-bucket answers 404 \(NoSuchBucket\)/);
  });

  it('runs the CLI and the page the same way as on Valet storage', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-dev-gcs-'));
    const dev = await startValet(
      [
        'dev',
        '--port',
        '0',
        '--data',
        path.join(dir, 'data'),
        '--json',
        '--storage',
        'gcs',
        '--gcs-bucket',
        'valet-dev',
        '--gcs-endpoint',
        gcs.endpoint,
      ],
      /^(\{.*\})\n/,
      t,
      { GOOGLE_APPLICATION_CREDENTIALS: KEY_FILE },
    );
    const ready = JSON.parse(dev.url) as DevReady;
    assert.equal(ready.storage, `${gcs.endpoint}/valet-dev`);
    assert.deepEqual(gcs.cors()?.origins, [new URL(ready.web).origin], "the bucket's CORS names the page");
    await devCliAndPage(t, ready, {
      dir,
      text: 'stored in GCS',
      shot: 'gcs-uploaded',
      size: async (key) => (await bucket.head(key))?.size,
    });
    assert.equal(await dev.stop('SIGTERM'), 0);
  });
  it('runs valet issuer --config with a gcs block', async (t) => {
    const provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
    const key = await testKey();
    const { dir, keyFile } = await keyFiles([key]);
    await writeFile(path.join(dir, 'storage.secret'), randomBytes(32).toString('base64url'), { mode: 0o600 });
    const config = {
      port: 0,
      gcs: { bucket: 'valet-dev', endpoint: gcs.endpoint },
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
    // A rule that does not accept what GCS cannot enforce is refused at start.
    await writeFile(
      configFile,
      JSON.stringify({ ...config, rules: { upload: { op: 'put', prefix: 'users/{subject}/' } } }),
    );
    const strict = await runValet(['issuer', '--config', configFile], {
      env: { GOOGLE_APPLICATION_CREDENTIALS: KEY_FILE },
    });
    assert.notEqual(strict.code, 0);
    assert.match(strict.stderr, /cannot enforce/);
    // An HMAC key from the environment this time.
    const hmac = { accessId: 'GOOG1CONFIGACCESSID0', secret: 'config-secret' };
    const standIn = await startGcsStandIn(
      trustOf(account.client_email, account.private_key, { [hmac.accessId]: hmac.secret }),
      'valet-config',
    );
    t.after(() => standIn.close());
    await writeFile(
      configFile,
      JSON.stringify({ ...config, gcs: { bucket: 'valet-config', endpoint: standIn.endpoint } }),
    );
    const issuer = await startValet(['issuer', '--config', configFile], /listening on (http:\/\/\S+)/, t, {
      GCS_HMAC_ACCESS_ID: hmac.accessId,
      GCS_HMAC_SECRET: hmac.secret,
    });
    const auth = ['--issuer', issuer.url, '--token', await provider.token('alice')];
    const file = path.join(dir, 'note.txt');
    await writeFile(file, 'through the config file');
    const up = await runValet(['upload', file, ...auth, '--json']);
    assert.equal(up.code, 0, up.stderr);
    const out = path.join(dir, 'back.txt');
    assert.equal((await runValet(['download', 'users/alice/note.txt', ...auth, '--out', out])).code, 0);
    assert.equal(await readFile(out, 'utf8'), 'through the config file');
    const stored = standIn.objects.get('users/alice/note.txt');
    assert.equal(
      stored?.body.toString(),
      'through the config file',
      'the object is in the configured bucket',
    );
    assert.equal(await issuer.stop('SIGTERM'), 0);
  });
});
