import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { created, grant, type Open, T0 } from './contract-fixtures.js';
import type { GrantRecord, RecordStore } from './records.js';
import type { ValidationQueue } from './validations.js';

/** A store with a validation queue, and an upload made with a `hold` key recorded in it. */
async function heldUpload(open: Open, object = 'v/a', etag = '"v1"') {
  const store = await open();
  const queue = store.validations;
  assert.ok(queue, 'the store has a validation queue');
  const g = grant(object, 10, { constraints: { hold: true } });
  await store.reserveUpload(g, {}, T0);
  await store.recordEvent({ ...created(g, 10), etag });
  return { store, queue, grant: g };
}

async function upload(store: RecordStore, g: GrantRecord, etag: string, at = T0 + 1000) {
  await store.reserveUpload(g, {}, T0);
  await store.recordEvent({ ...created(g, 10), etag, receivedAt: at });
}

/** The validation queue. */
export function validationCases(open: Open): void {
  describe('validations', () => {
    queueCases(open);
    verdictCases(open);
  });
}

/** Queued, pending, claimed. */
function queueCases(open: Open): void {
  it('queues an upload made with a hold key, pending: listed to its owner as pending, no share', async () => {
    const { store, queue, grant: g } = await heldUpload(open);
    const object = await store.getObject('v/a');
    assert.equal(object?.validation, 'pending');
    assert.deepEqual(
      (await store.listObjects('alice')).map((o) => [o.key, o.validation]),
      [['v/a', 'pending']],
    );
    assert.equal((await store.usage('alice', T0 + 2000)).objects, 1, 'counted while pending');
    const v = await queue.get(g.id);
    assert.equal(v?.status, 'pending');
    assert.equal(v?.object, 'v/a');
    assert.equal(v?.etag, '"v1"');
    assert.equal(v?.rule, 'upload');
    await store.createShare({
      id: 'shr_v',
      secretHash: 'hv',
      object: 'v/a',
      owner: 'alice',
      createdAt: T0,
      expiresAt: T0 + 10_000,
      revokedAt: null,
      etag: '"v1"',
    });
    assert.deepEqual(await store.listShares('alice', T0 + 2000), [], 'a pending object has no live link');
    const plain = grant('v/plain', 1);
    await upload(store, plain, '"p"');
    assert.equal((await store.getObject('v/plain'))?.validation, undefined, 'no hold, no validation');
    assert.equal(await queue.get(plain.id), undefined);
  });

  it('claims a due validation for one holder at a time, until its lease runs out', async () => {
    const { queue, grant: g } = await heldUpload(open);
    const first = await queue.claim('one', T0 + 2000, 60_000);
    assert.equal(first?.id, g.id);
    assert.equal(await queue.claim('two', T0 + 3000, 60_000), undefined, 'leased to one');
    assert.equal(await queue.renew(g.id, 'one', T0 + 100_000), true);
    assert.equal(await queue.renew(g.id, 'two', T0 + 100_000), false, 'not two’s lease');
    assert.equal(await queue.claim('two', T0 + 70_000, 60_000), undefined, 'renewed past 70 s');
    const taken = await queue.claim('two', T0 + 100_001, 60_000);
    assert.equal(taken?.id, g.id, 'a holder that died loses it when its lease runs out');
  });
}

/** Retries and verdicts. */
function verdictCases(open: Open): void {
  it('retries later with the attempt counted, and publishes', async () => {
    const { store, queue, grant: g } = await heldUpload(open);
    await queue.claim('one', T0 + 2000, 60_000);
    await queue.retry(g.id, 'one', T0 + 30_000, 'clamd did not answer');
    assert.equal(await queue.claim('one', T0 + 29_999, 60_000), undefined, 'not due yet');
    assert.deepEqual(await queue.backlog(), { pending: 1, oldestCreatedAt: T0 + 1000, retrying: 1 });
    const again = await queue.claim('two', T0 + 30_000, 60_000);
    assert.equal(again?.attempts, 1);
    assert.equal(again?.lastError, 'clamd did not answer');
    assert.equal(await queue.finish(g.id, 'published', T0 + 31_000), true);
    assert.equal(await queue.finish(g.id, 'published', T0 + 32_000), false, 'once');
    assert.equal((await store.getObject('v/a'))?.validation, undefined, 'published');
    assert.equal((await queue.get(g.id))?.status, 'published');
    assert.equal((await queue.backlog()).pending, 0);
  });

  it('rejects in two steps: unlisted and uncounted with its reason, then finished', async () => {
    const { store, queue, grant: g } = await heldUpload(open);
    await queue.claim('one', T0 + 2000, 60_000);
    await queue.reject(g.id, 'one', 'its bytes are HTML, not a PNG image', T0 + 2500);
    assert.equal(await store.getObject('v/a'), undefined, 'no longer listed');
    assert.equal((await store.usage('alice', T0 + 3000)).objects, 0, 'not counted');
    const rejecting = await queue.get(g.id);
    assert.equal(rejecting?.status, 'rejecting');
    assert.equal(rejecting?.reason, 'its bytes are HTML, not a PNG image');
    // Its holder died before removing it: the next claim finishes the removal.
    const next = await queue.claim('two', T0 + 70_000, 60_000);
    assert.equal(next?.status, 'rejecting');
    assert.equal(await queue.finish(g.id, 'rejected', T0 + 71_000), true);
    assert.equal((await queue.get(g.id))?.status, 'rejected');
  });

  it('ends the validation of a version replaced or deleted before its verdict', async () => {
    const { store, queue, grant: g } = await heldUpload(open);
    const newer = grant('v/a', 10, { constraints: { hold: true }, issuedAt: T0 + 500 });
    await upload(store, newer, '"v2"', T0 + 2000);
    assert.equal((await queue.get(g.id))?.status, 'replaced');
    assert.equal((await queue.get(newer.id))?.status, 'pending');
    assert.equal(await queue.finish(g.id, 'published', T0 + 3000), false, 'a replaced one stays so');
    assert.equal((await store.getObject('v/a'))?.validation, 'pending', 'the newer version is pending');
    await store.recordEvent({
      ...created(newer, 0, 'evt-delete'),
      type: 'object.deleted',
      keyId: 'some-delete-key',
      receivedAt: T0 + 4000,
    });
    assert.equal((await queue.get(newer.id))?.status, 'replaced', 'deleted before its verdict');
    assert.equal(await queue.claim('one', T0 + 5000, 60_000), undefined);
  });

  it('gives each of many claimers at once another validation, or none', async () => {
    const store = await open();
    const queue = store.validations as ValidationQueue;
    for (let i = 0; i < 5; i++)
      await upload(store, grant(`v/many-${i}`, 1, { constraints: { hold: true } }), `"${i}"`);
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) => queue.claim(`holder-${i}`, T0 + 2000, 60_000)),
    );
    const ids = claims.filter((c) => c !== undefined).map((c) => c.id);
    assert.equal(ids.length, 5);
    assert.equal(new Set(ids).size, 5, 'never the same one twice');
  });
}
