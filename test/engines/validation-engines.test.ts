// Validate before publish on the engines users run: Ceph RGW (S3) and Azurite (Azure), with
// Debian's clamd. The issuer alone keeps a pending object unreadable there (it signs no read for
// it); a rejected one is deleted from the bucket or container.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createClient } from '../../src/client/client.js';
import type { StorageDriver } from '../../src/drivers/types.js';
import type { Rule } from '../../src/issuer/rules.js';
import type { ValidateHook } from '../../src/issuer/validation/validators.js';
import { type Azurite, azuriteContainer, startAzurite } from '../helpers/azurite.js';
import { type Ceph, cephBucket, startCeph } from '../helpers/ceph.js';
import { type Clamd, EICAR, startClamd } from '../helpers/clamd.js';
import { tinyPng } from '../helpers/files.js';
import { gate } from '../helpers/gate.js';
import { refusal, servedDriverIssuer } from '../helpers/system.js';

const UNREVOCABLE = ['once', 'revocation'] as Rule['accept'];

/** The same checks on any driver: pending stays unreadable, EICAR and fakes go, clean files stay. */
function validationCases(name: string, setup: () => { driver: StorageDriver; clamd: Clamd }): void {
  const system = async (t: TestContext, first?: ValidateHook) => {
    const { driver, clamd } = setup();
    const rules: Record<string, Rule> = {
      upload: {
        op: 'put',
        prefix: 'users/{subject}/',
        maxSize: 1024 * 1024,
        validate: first ? [first, 'type', 'clamav'] : ['type', 'clamav'],
        accept: UNREVOCABLE,
      },
      read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
      share: { op: 'share', prefix: 'users/{subject}/', accept: ['revocation'] },
    };
    const { issuer, url } = await servedDriverIssuer(t, driver, {
      rules,
      validation: { clamd: clamd.address },
    });
    const client = (user: string) =>
      createClient({ issuer: url, getToken: () => `user:${user}`, retryDelay: 50 });
    return { issuer, client, driver };
  };

  it(`${name}: keeps the EICAR file unreadable while pending, then removes it`, async (t) => {
    const held = gate();
    const s = await system(t, held.hook);
    const alice = s.client('alice');
    const stored = await alice.upload(EICAR, {
      name: 'eicar.txt',
      contentType: 'text/plain',
      awaitValidation: false,
    });
    assert.equal(stored.validation, 'pending');
    assert.equal(await refusal(alice.readUrl(stored.object)), 'object_pending');
    assert.equal(await refusal(alice.share(stored.object, { ttl: 60 })), 'object_pending');
    assert.deepEqual(
      (await alice.list()).map((o) => o.validation),
      ['pending'],
    );
    assert.deepEqual(await s.client('bob').list(), []);
    held.open();
    const verdict = await stored.verdict;
    assert.equal(verdict?.status, 'rejected');
    assert.match(verdict?.reason ?? '', /ClamAV found Valet\.Test\.EICAR/);
    const context = { now: Date.now(), issuerKey: async () => '' };
    assert.equal(await s.driver.head(stored.object, context), undefined, 'deleted from the store');
    assert.deepEqual(await alice.list(), []);
  });

  it(`${name}: publishes a clean PNG and rejects HTML declared image/png`, async (t) => {
    const s = await system(t);
    const alice = s.client('alice');
    const png = await alice.upload(tinyPng(), { name: 'cat.png', contentType: 'image/png' });
    const read = await fetch((await alice.readUrl(png.object)).url);
    assert.deepEqual(Buffer.from(await read.arrayBuffer()), tinyPng());
    const fake = alice.upload(Buffer.from('<html><script>x()</script></html>'), {
      name: 'fake.png',
      contentType: 'image/png',
    });
    assert.equal(await refusal(fake), 'content_rejected');
    const context = { now: Date.now(), issuerKey: async () => '' };
    assert.equal(await s.driver.head('users/alice/fake.png', context), undefined);
    assert.deepEqual(
      (await alice.list()).map((o) => o.object),
      ['users/alice/cat.png'],
    );
  });
}

describe('validate before publish on Ceph RGW (S3)', () => {
  let ceph: Ceph;
  let driver: StorageDriver;
  let clamd: Clamd;
  before(async () => {
    [ceph, clamd] = await Promise.all([startCeph(), startClamd(undefined)]);
    driver = await cephBucket(ceph, 'valet-validation');
  });
  after(async () => {
    await clamd?.stop();
    await ceph?.stop();
  });
  validationCases('Ceph', () => ({ driver, clamd }));
});

describe('validate before publish on Azurite (Azure Blob)', () => {
  let azurite: Azurite;
  let driver: StorageDriver;
  let clamd: Clamd;
  before(async () => {
    [azurite, clamd] = await Promise.all([startAzurite(), startClamd(undefined)]);
    driver = await azuriteContainer(azurite, 'valet-validation');
  });
  after(async () => {
    await clamd?.stop();
    await azurite?.stop();
  });
  validationCases('Azurite', () => ({ driver, clamd }));
});
