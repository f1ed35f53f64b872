import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { created, grant, type Open, T0 } from './contract-fixtures.js';

/** Listing a subject's objects. */
export function listingCases(open: Open): void {
  describe('listing', () => {
    it('lists by prefix, in pages after a key, in bytewise order', async () => {
      const store = await open();
      const keys = ['docs/b', 'docs/a', 'docs/é', 'docs/Z', 'docsx', 'img/1', 'docs/a/deep'];
      for (const key of keys) {
        const g = grant(key, 1);
        await store.reserveUpload(g, {}, T0);
        await store.recordEvent(created(g, 1));
      }
      const page = async (p: { prefix?: string; after?: string; limit?: number }) =>
        (await store.listObjects('alice', p)).map((o) => o.key);
      assert.deepEqual(await page({ prefix: 'docs/' }), [
        'docs/Z',
        'docs/a',
        'docs/a/deep',
        'docs/b',
        'docs/é',
      ]);
      assert.deepEqual(await page({ prefix: 'docs/', limit: 2 }), ['docs/Z', 'docs/a']);
      assert.deepEqual(await page({ prefix: 'docs/', after: 'docs/a', limit: 2 }), ['docs/a/deep', 'docs/b']);
      assert.deepEqual(await page({ prefix: 'docs/', after: 'docs/b' }), ['docs/é']);
      assert.deepEqual(await page({ after: 'docsx' }), ['img/1']);
      assert.deepEqual(await page({ prefix: 'nothing/' }), []);
      // A prefix is text, not a pattern.
      assert.deepEqual(await page({ prefix: 'docs_' }), []);
      assert.deepEqual(await page({ prefix: 'docs%' }), []);
      assert.equal((await page({})).length, keys.length);
    });
  });
}
