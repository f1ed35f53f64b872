import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, routeIssuer } from '../../../../test/helpers/issuer-routes.js';
import { OBJECT_PAGE_LIMIT } from './objects.js';

interface Listing {
  objects: Array<Record<string, unknown> & { key: string }>;
  next: string | null;
}

describe('GET /v1/objects', () => {
  it("lists the caller's objects in key order, with what their uploads said of them", async () => {
    const { json, upload } = await routeIssuer();
    await upload('alice', 'b.txt', 'bee');
    await upload('alice', 'a.txt', 'a', { filename: 'Notes A.txt', metadata: { album: 'x' } });
    await upload('bob', 'c.txt', 'not alice');
    const { status, body } = await json<Listing>('/v1/objects', { user: 'alice' });
    assert.equal(status, 200);
    assert.deepEqual(
      body.objects.map((o) => o.key),
      ['users/alice/a.txt', 'users/alice/b.txt'],
    );
    const [a] = body.objects;
    assert.equal(a?.size, 1);
    assert.equal(a?.content_type, 'text/plain');
    assert.equal(a?.filename, 'Notes A.txt');
    assert.deepEqual(a?.metadata, { album: 'x' });
    assert.match(String(a?.created_at), /^\d{4}-\d\d-\d\dT/);
    assert.equal(body.next, null);
  });

  it('pages with limit and after, filters by prefix, and says where the next page starts', async () => {
    const { json, upload } = await routeIssuer();
    for (const name of ['1.txt', '2.txt', '3.txt', 'sub/4.txt']) await upload('alice', name, name);
    const first = await json<Listing>('/v1/objects?limit=2', { user: 'alice' });
    assert.deepEqual(
      first.body.objects.map((o) => o.key),
      ['users/alice/1.txt', 'users/alice/2.txt'],
    );
    assert.equal(first.body.next, 'users/alice/2.txt');
    const second = await json<Listing>(
      `/v1/objects?limit=2&after=${encodeURIComponent('users/alice/2.txt')}`,
      {
        user: 'alice',
      },
    );
    assert.deepEqual(
      second.body.objects.map((o) => o.key),
      ['users/alice/3.txt', 'users/alice/sub/4.txt'],
    );
    assert.equal(second.body.next, null);
    const sub = await json<Listing>(`/v1/objects?prefix=${encodeURIComponent('users/alice/sub/')}`, {
      user: 'alice',
    });
    assert.deepEqual(
      sub.body.objects.map((o) => o.key),
      ['users/alice/sub/4.txt'],
    );
  });

  it('refuses a limit outside 1 to the page size, and hostile query text, as 400', async () => {
    const { json } = await routeIssuer();
    for (const query of ['limit=0', `limit=${OBJECT_PAGE_LIMIT + 1}`, 'limit=1.5', 'limit=x', 'prefix=%00']) {
      const { status, body } = await json(`/v1/objects?${query}`, { user: 'alice' });
      assert.equal(status, 400, query);
      assert.equal(codeOf(body), 'bad_request', query);
    }
    const long = await json(`/v1/objects?after=${'a'.repeat(1025)}`, { user: 'alice' });
    assert.match(JSON.stringify(long.body), /after is too long/);
  });
});
