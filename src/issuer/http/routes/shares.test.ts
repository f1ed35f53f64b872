import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, routeIssuer } from '../../../../test/helpers/issuer-routes.js';

describe('/v1/shares', () => {
  it("creates a link to the caller's object, lists it without its URL, and deletes it", async () => {
    const { json, call, upload } = await routeIssuer();
    await upload('alice', 'a.txt', 'shared');
    const created = await json<{ id: string; url: string; object: string; expires_at: string }>(
      '/v1/shares',
      {
        user: 'alice',
        body: { key: 'users/alice/a.txt', ttl: 600 },
      },
    );
    assert.equal(created.status, 201);
    assert.equal(created.body.object, 'users/alice/a.txt');
    assert.match(created.body.url, /^http:\/\/issuer\.test\/s\//);
    const listed = await json<{ shares: Array<Record<string, unknown>> }>('/v1/shares', { user: 'alice' });
    assert.deepEqual(
      listed.body.shares.map((s) => [s.id, s.object, 'url' in s]),
      [[created.body.id, 'users/alice/a.txt', false]],
    );
    const followed = await call(new URL(created.body.url).pathname);
    assert.equal(followed.status, 302, 'the link redirects to a read key');
    const bobs = await json<{ shares: unknown[] }>('/v1/shares', { user: 'bob' });
    assert.deepEqual(bobs.body.shares, [], "another caller does not see alice's links");
    const foreignDelete = await call(`/v1/shares/${created.body.id}`, { user: 'bob', method: 'DELETE' });
    assert.equal(foreignDelete.status, 404, 'nor delete them');
    const gone = await call(`/v1/shares/${created.body.id}`, { user: 'alice', method: 'DELETE' });
    assert.equal(gone.status, 204);
    assert.equal((await call(new URL(created.body.url).pathname)).status, 404);
  });

  it('refuses a link to a missing or foreign object, and one longer than the rule allows', async () => {
    const { json, upload } = await routeIssuer();
    await upload('bob', 'b.txt', 'bob');
    const missing = await json('/v1/shares', {
      user: 'alice',
      body: { key: 'users/alice/none.txt', ttl: 60 },
    });
    assert.equal(missing.status, 404);
    const foreign = await json('/v1/shares', { user: 'alice', body: { key: 'users/bob/b.txt', ttl: 60 } });
    assert.equal(foreign.status, 403);
    assert.equal(codeOf(foreign.body), 'forbidden');
    const long = await json('/v1/shares', { user: 'bob', body: { key: 'users/bob/b.txt', ttl: 7200 } });
    assert.equal(long.status, 400);
  });
});
