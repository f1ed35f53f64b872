import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { descriptionCases } from './contract-descriptions.js';
import { created, grant, type Open, T0 } from './contract-fixtures.js';
import { listingCases } from './contract-listing.js';
import { shareCases } from './contract-shares.js';
import { validationCases } from './contract-validations.js';
import type { GrantRecord, RecordStore } from './records.js';

/**
 * The contract every {@link RecordStore} must keep (`valet/issuer/testing`). Each implementation
 * runs it with a factory that returns an empty store (see `sqlite-records.test.ts`); a PostgreSQL
 * store runs the same suite, unchanged.
 *
 * @example
 * ```ts
 * import { recordStoreContract } from 'valet/issuer/testing'
 * recordStoreContract('my store', () => MyRecordStore.open(…))
 * ```
 */
export function recordStoreContract(name: string, open: Open): void {
  describe(`RecordStore contract: ${name}`, () => {
    quotaCases(open);
    grantCases(open);
    lapsedCases(open);
    unfinishedCases(open);
    eventCases(open);
    descriptionCases(open);
    listingCases(open);
    shareCases(open);
    revocationCases(open);
    leaseCases(open);
    validationCases(open);
  });
}

/** Quotas. */
function quotaCases(open: Open): void {
  describe('quotas', () => {
    it('reserves quota at minting: declared bytes and one object each', async () => {
      const store = await open();
      const quota = { maxBytes: 1000, maxObjects: 2 };
      assert.deepEqual(await store.reserveUpload(grant('a', 600), quota, T0), { ok: true });
      assert.equal((await store.reserveUpload(grant('b', 500), quota, T0)).ok, false);
      assert.deepEqual(await store.usage('alice', T0), { bytes: 600, objects: 1 });
      assert.equal((await store.reserveUpload(grant('b', 400), quota, T0)).ok, true);
      assert.equal((await store.reserveUpload(grant('c', 0), quota, T0)).ok, false, 'third object');
      // A retry (a new key for the same object) does not count twice.
      assert.equal((await store.reserveUpload(grant('a', 600), quota, T0)).ok, true);
      assert.deepEqual(await store.usage('alice', T0), { bytes: 1000, objects: 2 });
      assert.deepEqual(await store.usage('bob', T0), { bytes: 0, objects: 0 });
    });

    it('keeps concurrent reservations atomic inside one group commit', async () => {
      const store = await open();
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => store.reserveUpload(grant(`c${i}`, 300), { maxBytes: 1000 }, T0)),
      );
      assert.equal(results.filter((r) => r.ok).length, 3);
      assert.deepEqual(await store.usage('alice', T0), { bytes: 900, objects: 3 });
    });

    it('undoes only the failing write of a group commit', async () => {
      const store = await open();
      const good = grant('g', 1);
      const results = await Promise.allSettled([
        store.recordGrant(good),
        store.recordGrant(good), // the same id again: a constraint violation
        store.reserveUpload(grant('h', 1), {}, T0),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.ok(await store.getGrant(good.id));
      assert.equal((await store.getObject('h'))?.state, 'pending');
    });

    it('lets reservations and pending objects lapse with their keys', async () => {
      const store = await open();
      await store.reserveUpload(grant('a', 600), { maxBytes: 1000 }, T0);
      assert.equal((await store.getObject('a'))?.state, 'pending');
      assert.deepEqual(
        await store.usage('alice', T0 + 300_001),
        { bytes: 0, objects: 0 },
        'lapsed rows never count',
      );
      assert.equal(await store.expirePending(T0 + 300_001), 1);
      assert.equal(await store.getObject('a'), undefined);
      assert.deepEqual(await store.usage('alice', T0 + 300_001), { bytes: 0, objects: 0 });
    });

    it('keeps a reservation until its reservedUntil, past its key, until the upload completes', async () => {
      const store = await open();
      const day = 24 * 3600_000;
      const g = grant('big', 600, { constraints: { resumable: true }, reservedUntil: T0 + day });
      await store.reserveUpload(g, { maxBytes: 1000 }, T0);
      assert.equal((await store.getGrant(g.id))?.reservedUntil, T0 + day);
      const later = T0 + 3600_000; // the key expired long ago; the unfinished upload is still kept
      assert.equal(await store.expirePending(later), 0);
      assert.deepEqual(await store.usage('alice', later), { bytes: 600, objects: 1 });
      assert.equal((await store.reserveUpload(grant('other', 500), { maxBytes: 1000 }, later)).ok, false);
      assert.deepEqual(await store.usage('alice', T0 + day + 1), { bytes: 0, objects: 0 }, 'until it ends');
      await store.recordEvent({ ...created(g, 550), receivedAt: later });
      assert.deepEqual(
        await store.usage('alice', later),
        { bytes: 550, objects: 1 },
        'completion: the real size',
      );
    });
  });
}

/** Grants and uploads. */
function grantCases(open: Open): void {
  describe('grants and uploads', () => {
    it('renews a resumable upload: counted, reservation and pending row kept, ended by completion', async () => {
      const store = await open();
      const g = grant('big', 800, { constraints: { resumable: true } });
      await store.reserveUpload(g, { maxBytes: 1000 }, T0);
      const renewal = (n: number) =>
        grant('big', 800, {
          constraints: { upload: g.id },
          issuedAt: T0 + n * 200_000,
          expiresAt: T0 + n * 200_000 + 300_000,
        });
      assert.equal(await store.renewUpload(renewal(1), g.id, T0 + 200_000), 1);
      assert.equal(await store.renewUpload(renewal(2), g.id, T0 + 400_000), 2);
      // The first key has expired: the renewed one still holds the reservation and the row.
      const later = T0 + 500_000;
      assert.equal(await store.expirePending(later), 0);
      assert.deepEqual(await store.usage('alice', later), { bytes: 800, objects: 1 });
      assert.equal(
        (await store.reserveUpload(grant('other', 300), { maxBytes: 1000 }, later)).ok,
        false,
        'the renewed reservation still counts against the quota',
      );
      await store.recordEvent({ ...created(g, 700), receivedAt: later });
      assert.deepEqual(await store.usage('alice', later), { bytes: 700, objects: 1 });
    });

    it('keeps a grant as minted, and finds it by id', async () => {
      const store = await open();
      const g = grant('kept', 0, {
        op: 'get',
        constraints: { once: true, filename: 'a.txt' },
        shareId: 'shr_x',
      });
      await store.recordGrant(g);
      assert.deepEqual(await store.getGrant(g.id), g);
      assert.equal(await store.getGrant('grant-missing-000000'), undefined);
    });
  });
}

/** The upload keys the issuer looks at again (every put key, once it lapses). */
function lapsedCases(open: Open): void {
  describe('upload keys looked at again', () => {
    it('finds upload keys that lapsed, in order, page by page', async () => {
      const store = await open();
      const at = (n: number) => T0 + n * 1000;
      const a = grant('a', 0, { expiresAt: at(10) });
      const b = grant('b', 0, { expiresAt: at(20) });
      const c = grant('c', 0, { expiresAt: at(20) });
      const reported = grant('d', 0, { expiresAt: at(15) });
      const renewal = grant('e', 0, { expiresAt: at(12), constraints: { upload: a.id } });
      const read = grant('f', 0, { op: 'get', expiresAt: at(11) });
      const live = grant('g', 0, { expiresAt: at(40) });
      for (const g of [a, b, c, reported, renewal, live]) await store.reserveUpload(g, {}, T0);
      await store.recordGrant(read);
      await store.recordEvent(created(reported, 5));
      const start = { expiresAt: 0, id: '' };
      const ids = (gs: GrantRecord[]) => gs.map((g) => g.id);
      // Reported or not, renewals too: every put key is looked at once it can no longer be used.
      assert.deepEqual(ids(await store.lapsedUploads(start, at(30), 10)), [
        a.id,
        renewal.id,
        reported.id,
        b.id,
        c.id,
      ]);
      // A page ends inside a tie: the next page starts after the last id seen at that instant.
      const first = await store.lapsedUploads(start, at(30), 4);
      assert.deepEqual(ids(first), [a.id, renewal.id, reported.id, b.id]);
      const last = first[3] as GrantRecord;
      assert.deepEqual(
        ids(await store.lapsedUploads({ expiresAt: last.expiresAt, id: last.id }, at(30), 4)),
        [c.id],
      );
      assert.deepEqual(
        ids(await store.lapsedUploads(start, at(12), 10)),
        [a.id, renewal.id],
        'only keys expired by then',
      );
    });

    it("finds an object's upload keys valid during a span, newest first", async () => {
      const store = await open();
      const at = (n: number) => T0 + n * 1000;
      const early = grant('o', 0, { issuedAt: at(0), expiresAt: at(10) });
      const mid = grant('o', 0, { issuedAt: at(5), expiresAt: at(20) });
      const late = grant('o', 0, { issuedAt: at(30), expiresAt: at(40) });
      const other = grant('p', 0, { issuedAt: at(5), expiresAt: at(20) });
      const read = grant('o', 0, { op: 'get', issuedAt: at(5), expiresAt: at(20) });
      for (const g of [early, mid, late, other]) await store.reserveUpload(g, {}, T0);
      await store.recordGrant(read);
      const ids = (gs: GrantRecord[]) => gs.map((g) => g.id);
      assert.deepEqual(ids(await store.uploadKeysFor('o', at(8), at(12), 10)), [mid.id, early.id]);
      assert.deepEqual(ids(await store.uploadKeysFor('o', at(15), at(35), 10)), [late.id, mid.id]);
      assert.deepEqual(ids(await store.uploadKeysFor('o', at(8), at(12), 1)), [mid.id], 'at most limit');
      assert.deepEqual(ids(await store.uploadKeysFor('o', at(21), at(29), 10)), [], 'none valid then');
    });
  });
}

/** The resumable uploads the issuer cancels once past their lifetime (stores that list none). */
function unfinishedCases(open: Open): void {
  describe('unfinished resumable uploads', () => {
    it('finds unfinished resumable uploads by issue time, oldest first, page by page', async () => {
      const store = await open();
      const at = (n: number) => T0 + n * 1000;
      let n = 0;
      const upload = (issued: number) =>
        grant(`r${++n}`, 0, { issuedAt: at(issued), reservedUntil: at(issued + 100) });
      const a = upload(1);
      const b = upload(2);
      const c = upload(2);
      const finished = upload(3);
      const single = grant('s', 0, { issuedAt: at(3) });
      const late = upload(50);
      for (const g of [a, b, c, finished, single, late]) await store.reserveUpload(g, {}, T0);
      await store.recordEvent(created(finished, 5));
      const start = { issuedAt: 0, id: '' };
      const ids = (gs: GrantRecord[]) => gs.map((g) => g.id);
      // Not a finished one, not a single-request upload, not one issued after the bound.
      assert.deepEqual(ids(await store.unfinishedUploads(start, at(10), 10)), [a.id, b.id, c.id]);
      // A page ends inside a tie: the next starts after the last id seen at that instant.
      const first = await store.unfinishedUploads(start, at(10), 2);
      assert.deepEqual(ids(first), [a.id, b.id]);
      assert.deepEqual(ids(await store.unfinishedUploads({ issuedAt: at(2), id: b.id }, at(10), 2)), [c.id]);
      assert.equal((await store.unfinishedUploads(start, at(10), 10))[0]?.reservedUntil, at(101));
    });
  });
}

/** Events and objects. */
function eventCases(open: Open): void {
  describe('events and objects', () => {
    it('records an event once, completes the object and releases the reservation', async () => {
      const store = await open();
      const g = grant('a', 600);
      await store.reserveUpload(g, {}, T0);
      const first = await store.recordEvent(created(g, 550));
      assert.equal(first.recorded, true);
      assert.equal(first.handled, false);
      assert.equal(first.object?.state, 'complete');
      assert.deepEqual(first.usage, { bytes: 550, objects: 1 });
      assert.ok((await store.getGrant(g.id))?.completedAt);
      const again = await store.recordEvent(created(g, 550));
      assert.equal(again.recorded, false);
      assert.equal(again.handled, false);
      await store.markEventHandled(created(g, 550).id, T0 + 2000);
      assert.equal((await store.recordEvent(created(g, 550))).handled, true);
      assert.equal((await store.listEvents('a')).length, 1);
      assert.deepEqual(
        (await store.listObjects('alice')).map((o) => [o.key, o.size]),
        [['a', 550]],
      );
    });

    it('removes the object on a delete event', async () => {
      const store = await open();
      const g = grant('a', 10);
      await store.reserveUpload(g, {}, T0);
      await store.recordEvent(created(g, 10));
      const del = grant('a', 0, { op: 'delete' });
      await store.recordGrant(del);
      await store.recordEvent({ ...created(del, 10), type: 'object.deleted' });
      assert.equal(await store.getObject('a'), undefined);
      assert.deepEqual(await store.listObjects('alice'), []);
    });

    it("lists only a subject's complete objects, by key", async () => {
      const store = await open();
      const [b, a, pending] = [grant('b', 1), grant('a', 1), grant('pending', 1)];
      for (const g of [b, a, pending]) await store.reserveUpload(g, {}, T0);
      await store.recordEvent(created(b, 1));
      await store.recordEvent(created(a, 1));
      await store.reserveUpload(grant('bob-object', 1, { subject: 'bob' }), {}, T0);
      assert.deepEqual(
        (await store.listObjects('alice')).map((o) => [o.key, o.state]),
        [
          ['a', 'complete'],
          ['b', 'complete'],
        ],
      );
      assert.deepEqual(await store.listObjects('bob'), []);
    });

    it('drops an upload refused at completion only while it is still that version', async () => {
      const store = await open();
      const g = grant('dropped', 5);
      await store.reserveUpload(g, {}, T0);
      await store.recordEvent(created(g, 5));
      await store.dropObject('dropped', '"another version"');
      assert.equal((await store.getObject('dropped'))?.state, 'complete', 'another etag: kept');
      await store.dropObject('dropped', `"${'a'.repeat(64)}"`);
      assert.equal(await store.getObject('dropped'), undefined);
      assert.deepEqual(await store.usage('alice', T0 + 2000), { bytes: 0, objects: 0 });
    });
  });
}

/** Revocations. */
function revocationCases(open: Open): void {
  describe('revocations', () => {
    it('keeps revocations while they matter, with a version that changes', async () => {
      const store = await open();
      const empty = await store.activeRevocations(T0);
      await store.addRevocation({
        kind: 'key',
        value: 'k1',
        before: null,
        expiresAt: T0 + 1000,
        createdAt: T0,
      });
      const one = await store.activeRevocations(T0);
      assert.notEqual(one.version, empty.version);
      assert.equal(one.revocations.length, 1);
      const later = await store.activeRevocations(T0 + 1000);
      assert.equal(later.revocations.length, 0);
      assert.notEqual(later.version, one.version);
    });
  });
}

/** Leases for periodic tasks (optional in the interface; a store that has them must keep this). */
function leaseCases(open: Open): void {
  it('leases a task to one holder at a time, until the lease runs out', async (t) => {
    const store = await open();
    if (!store.claimLease) return t.skip('this store has no leases: every issuer runs every task');
    assert.equal(await store.claimLease('sweep', 'a', T0, 1000), true);
    assert.equal(await store.claimLease('sweep', 'b', T0 + 500, 1000), false, 'held by a');
    assert.equal(await store.claimLease('sweep', 'a', T0 + 900, 1000), true, 'a renews it');
    assert.equal(await store.claimLease('sweep', 'b', T0 + 1800, 1000), false, 'renewed until T0 + 1900');
    assert.equal(await store.claimLease('other', 'b', T0 + 1800, 1000), true, 'each task its own lease');
    assert.equal(await store.claimLease('sweep', 'b', T0 + 1900, 1000), true, 'run out: b takes it');
    assert.equal(await store.claimLease('sweep', 'a', T0 + 2000, 1000), false);
  });
}
