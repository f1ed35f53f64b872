import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { created, grant, type Open, T0 } from './contract-fixtures.js';

/** What an upload says of its object (its file's name, the app's fields), for the record-store contract. */
export function descriptionCases(open: Open): void {
  describe('object descriptions', () => {
    it('keeps what an upload says of its object from its key, through renewals, until replaced', async () => {
      const store = await open();
      const description = { filename: 'Holiday photo.jpg', metadata: { caption: 'Beach', album: '2026' } };
      const g = { ...grant('a', 5), description };
      await store.reserveUpload(g, {}, T0);
      assert.deepEqual((await store.getGrant(g.id))?.description, description);
      assert.equal((await store.getObject('a'))?.description, undefined, 'not before it completes');
      const outcome = await store.recordEvent(created(g, 5));
      assert.deepEqual(outcome.object?.description, description);
      assert.deepEqual((await store.listObjects('alice'))[0]?.description, description);
      // A renewal of a resumable upload carries the same description.
      const first = {
        ...grant('r', 5, { constraints: { resumable: true } }),
        description: { filename: 'r.bin' },
      };
      await store.reserveUpload(first, {}, T0);
      const renewal = {
        ...grant('r', 5, { constraints: { upload: first.id } }),
        description: { filename: 'r.bin' },
      };
      await store.renewUpload(renewal, first.id, T0);
      assert.deepEqual((await store.getGrant(renewal.id))?.description, { filename: 'r.bin' });
      // A new version says what its own key said: here nothing.
      const next = grant('a', 7);
      await store.reserveUpload(next, {}, T0);
      await store.recordEvent(created(next, 7));
      assert.equal((await store.getObject('a'))?.description, undefined);
    });
  });
}
