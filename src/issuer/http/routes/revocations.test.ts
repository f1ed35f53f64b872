import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, routeIssuer } from '../../../../test/helpers/issuer-routes.js';

describe('POST /v1/revocations', () => {
  it('lets an admin revoke a key, a subject or a signing key, and nobody else', async () => {
    const { json } = await routeIssuer();
    const byUser = await json('/v1/revocations', { user: 'alice', body: { kind: 'subject', value: 'bob' } });
    assert.equal(byUser.status, 403);
    assert.equal(codeOf(byUser.body), 'forbidden');
    for (const kind of ['key', 'subject', 'signing_key']) {
      const { status, body } = await json('/v1/revocations', { user: 'admin', body: { kind, value: 'x1' } });
      assert.equal(status, 201, kind);
      assert.deepEqual(body, { revoked: { kind, value: 'x1' } });
    }
    const unknown = await json('/v1/revocations', { user: 'admin', body: { kind: 'user', value: 'x' } });
    assert.equal(unknown.status, 400);
  });
});
