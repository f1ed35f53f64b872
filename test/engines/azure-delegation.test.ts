// User delegation SAS (Entra ID), the production choice: no account key on the issuer. Azurite
// hands out delegation keys over HTTPS with its basic OAuth; the test makes its own certificate,
// and the signing runs in a child process that trusts it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startAzurite } from '../helpers/azurite.js';
import { ROOT } from '../helpers/storage.js';

const run = promisify(execFile);

describe('Azure user delegation SAS, on Azurite over HTTPS', () => {
  it('signs with a delegation key Azure handed out, which Azure verifies, and renews the key before it ends', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-azure-tls-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    const azurite = await startAzurite({ https: { cert, key } });
    t.after(() => azurite.stop());
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'test/fixtures/azure/delegation.ts'), azurite.endpoint],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: cert }, cwd: ROOT },
    );
    const result = JSON.parse(stdout.trim().split('\n').pop() as string);
    // A user delegation SAS: the key's object id, tenant and window are in it, no account key.
    assert.equal(result.put.skoid, '23657296-5cd5-45b0-a809-d972a7f4dfe1');
    assert.equal(result.put.sktid, 'dd0d0df1-06c3-436c-8034-4b9a153097ce');
    assert.equal(result.put.spr, 'https');
    assert.equal(result.put.sp, 'cw');
    assert.equal(result.uploaded, 201);
    assert.deepEqual(result.read, { status: 200, text: 'hello' });
    assert.equal(result.tampered, 403);
    assert.equal(result.expired, 403);
    assert.equal(result.readToWrite, 403);
    assert.equal(result.sameKey, true, 'one delegation key signs many SAS');
    assert.equal(result.laterKey, true, 'a fresh key an hour before the old one ends');
    assert.equal(result.tooLong, 'invalid_options', 'a SAS never outlives its delegation key');
  });
});
