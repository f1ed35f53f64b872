import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, ROUTE_RULES, routeIssuer } from '../../../../test/helpers/issuer-routes.js';

describe('GET /v1/me', () => {
  it('names the caller, each rule with its namespace and limits, and the quota with its usage', async () => {
    const { json, upload } = await routeIssuer({ quota: { maxBytes: 5000, maxObjects: 10 } });
    await upload('alice', 'a.txt', 'hello');
    const { status, body } = await json('/v1/me', { user: 'alice' });
    assert.equal(status, 200);
    assert.deepEqual(body, {
      subject: 'alice',
      rules: [
        {
          name: 'upload',
          op: 'put',
          prefix: 'users/alice/',
          max_size: 1000,
          content_types: ['text/*', 'image/*'],
          ttl: 300,
        },
        { name: 'read', op: 'get', prefix: 'users/alice/', ttl: 300 },
        { name: 'remove', op: 'delete', prefix: 'users/alice/', ttl: 300 },
        { name: 'share', op: 'share', prefix: 'users/alice/' },
      ],
      quota: { max_bytes: 5000, max_objects: 10, used_bytes: 5, used_objects: 1 },
    });
  });

  it('says null for a quota without limits, and counts only the caller', async () => {
    const { json, upload } = await routeIssuer();
    await upload('bob', 'b.txt', 'bytes of bob');
    const { body } = await json<{ quota: unknown; rules: Array<{ prefix: string; min_size?: number }> }>(
      '/v1/me',
      { user: 'alice' },
    );
    assert.deepEqual(body.quota, { max_bytes: null, max_objects: null, used_bytes: 0, used_objects: 0 });
    assert.ok(body.rules.every((r) => r.prefix === 'users/alice/'));
  });

  it('lists a rule with a minimum size and its own key lifetime', async () => {
    const { json } = await routeIssuer(
      {},
      { ...ROUTE_RULES, upload: { op: 'put', prefix: 'in/', minSize: 10, ttl: 60 } },
    );
    const { body } = await json<{ rules: unknown[] }>('/v1/me', { user: 'alice' });
    assert.deepEqual(body.rules[0], { name: 'upload', op: 'put', prefix: 'in/', min_size: 10, ttl: 60 });
  });

  it('needs a signed-in caller, and takes no other method', async () => {
    const { json } = await routeIssuer();
    const anonymous = await json('/v1/me');
    assert.equal(anonymous.status, 401);
    assert.equal(codeOf(anonymous.body), 'unauthenticated');
    const post = await json('/v1/me', { user: 'alice', method: 'POST', body: {} });
    assert.equal(post.status, 405);
  });
});
