import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { created, grant, type Open, T0 } from './contract-fixtures.js';

/** Shares. */
export function shareCases(open: Open): void {
  describe('shares', () => {
    it('finds a share by the hash of its secret and revokes it', async () => {
      const store = await open();
      await store.createShare({
        id: 'shr_1',
        secretHash: 'h1',
        object: 'a',
        owner: 'alice',
        createdAt: T0,
        expiresAt: T0 + 1000,
        revokedAt: null,
        etag: '"v1"',
      });
      assert.equal((await store.findShareBySecret('h1'))?.id, 'shr_1');
      assert.equal((await store.findShareBySecret('h1'))?.etag, '"v1"', 'the version it was made for');
      assert.equal(await store.findShareBySecret('h2'), undefined);
      assert.equal(await store.revokeShare('shr_1', T0 + 5), true);
      assert.equal((await store.getShare('shr_1'))?.revokedAt, T0 + 5);
      assert.equal(await store.revokeShare('shr_2', T0 + 5), false);
    });

    it("lists a subject's links that still work, newest first: live, and their object's version", async () => {
      const store = await open();
      const a = grant('a', 5);
      await store.reserveUpload(a, {}, T0);
      const event = created(a, 5);
      await store.recordEvent(event);
      const link = (
        id: string,
        createdAt: number,
        overrides: Partial<{ owner: string; expiresAt: number; object: string; etag: string | null }> = {},
      ) =>
        store.createShare({
          id,
          secretHash: `hash-${id}`,
          object: 'a',
          owner: 'alice',
          createdAt,
          expiresAt: T0 + 10_000,
          revokedAt: null,
          etag: event.etag,
          ...overrides,
        });
      await link('shr_old', T0);
      await link('shr_new', T0 + 1);
      await link('shr_revoked', T0 + 2);
      await link('shr_expired', T0 + 3, { expiresAt: T0 + 50 });
      await link('shr_bob', T0 + 4, { owner: 'bob' });
      await link('shr_older_version', T0 + 5, { etag: '"an earlier version"' });
      await link('shr_gone', T0 + 6, { object: 'deleted' });
      await link('shr_unversioned', T0 + 7, { etag: null });
      await store.revokeShare('shr_revoked', T0 + 10);
      assert.deepEqual(
        (await store.listShares('alice', T0 + 100)).map((s) => s.id),
        ['shr_unversioned', 'shr_new', 'shr_old'],
      );
    });
  });
}
