import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, routeIssuer } from '../../../../test/helpers/issuer-routes.js';

describe('POST /v1/keys', () => {
  it('mints an upload key for the caller namespace, with its limits, and refuses the rest', async () => {
    const { json } = await routeIssuer();
    const minted = await json<Record<string, unknown>>('/v1/keys', {
      user: 'alice',
      body: { op: 'put', name: 'note.txt', content_type: 'text/plain', size: 5 },
    });
    assert.equal(minted.status, 201);
    assert.equal(minted.body.op, 'put');
    assert.equal(minted.body.object, 'users/alice/note.txt');
    assert.equal(minted.body.method, 'PUT');
    assert.match(String(minted.body.url), /^http/);
    assert.equal(minted.body.complete, `/v1/keys/${minted.body.id}/complete`);
    assert.ok(Date.parse(String(minted.body.expires_at)) > Date.now());
    assert.deepEqual(minted.body.unenforced, ['revocation']);

    const tooBig = await json('/v1/keys', { user: 'alice', body: { op: 'put', name: 'a.txt', size: 5000 } });
    assert.equal(tooBig.status, 413);
    assert.equal(codeOf(tooBig.body), 'entity_too_large');
    const wrongType = await json('/v1/keys', {
      user: 'alice',
      body: { op: 'put', name: 'a.bin', content_type: 'application/pdf' },
    });
    assert.equal(wrongType.status, 415);
    const elsewhere = await json('/v1/keys', { user: 'alice', body: { op: 'get', key: 'users/bob/b.txt' } });
    assert.equal(elsewhere.status, 403);
    assert.equal(codeOf(elsewhere.body), 'forbidden');
  });

  it('refuses a body with an unknown field, or in camelCase, naming the field', async () => {
    const { json } = await routeIssuer();
    const camel = await json('/v1/keys', {
      user: 'alice',
      body: { op: 'put', name: 'a.txt', contentType: 'text/plain' },
    });
    assert.equal(camel.status, 400);
    assert.equal(codeOf(camel.body), 'bad_request');
    assert.match(JSON.stringify(camel.body), /contentType/);
  });
});

describe('an object named object, or key for one release', () => {
  it('takes object in key and share requests, the old key too, and refuses the two apart', async () => {
    const { json, upload } = await routeIssuer();
    await upload('alice', 'n.txt', 'name');
    for (const field of ['object', 'key']) {
      const minted = await json<{ object: string }>('/v1/keys', {
        user: 'alice',
        body: { op: 'get', [field]: 'users/alice/n.txt' },
      });
      assert.equal(minted.status, 201, field);
      assert.equal(minted.body.object, 'users/alice/n.txt');
      const shared = await json<{ object: string }>('/v1/shares', {
        user: 'alice',
        body: { [field]: 'users/alice/n.txt', ttl: 60 },
      });
      assert.equal(shared.status, 201, field);
      assert.equal(shared.body.object, 'users/alice/n.txt');
    }
    const bodies = { '/v1/keys': { op: 'get' }, '/v1/shares': { ttl: 60 } };
    for (const [path, body] of Object.entries(bodies)) {
      const both = await json(path, {
        user: 'alice',
        body: { ...body, object: 'users/alice/n.txt', key: 'users/alice/other.txt' },
      });
      assert.equal(both.status, 400, path);
      assert.match(JSON.stringify(both.body), /`object` and `key` name the same thing/);
    }
    const none = await json('/v1/keys', { user: 'alice', body: { op: 'get' } });
    assert.match(JSON.stringify(none.body), /a get request needs the object/);
  });
});

describe('POST /v1/keys/check', () => {
  it('says which object and rule an upload would get, mints nothing, and refuses as minting would', async () => {
    const { json } = await routeIssuer();
    const checked = await json('/v1/keys/check', {
      user: 'alice',
      body: { op: 'put', name: 'b.txt', content_type: 'text/plain', size: 3 },
    });
    assert.equal(checked.status, 200);
    assert.deepEqual(checked.body, { object: 'users/alice/b.txt', rule: 'upload' });
    const refused = await json('/v1/keys/check', {
      user: 'alice',
      body: { op: 'put', name: 'b.txt', size: 1001 },
    });
    assert.equal(refused.status, 413);
    const me = await json<{ quota: { used_objects: number } }>('/v1/me', { user: 'alice' });
    assert.equal(me.body.quota.used_objects, 0, 'a check reserves nothing');
  });
});

describe('POST /v1/keys/:id/complete', () => {
  it('records an upload the store holds, once, and answers the object as stored', async () => {
    const { json, memory } = await routeIssuer();
    const minted = await json<{ id: string; url: string; headers: Record<string, string> }>('/v1/keys', {
      user: 'alice',
      body: { op: 'put', name: 'c.txt', content_type: 'text/plain', size: 5 },
    });
    const early = await json(`/v1/keys/${minted.body.id}/complete`, { user: 'alice', body: {} });
    assert.equal(early.status, 404, 'nothing at the store yet');
    assert.match(JSON.stringify(early.body), /the object is not in the store/);
    await memory.fetch(
      new Request(minted.body.url, { method: 'PUT', headers: minted.body.headers, body: 'hello' }),
    );
    const done = await json<Record<string, unknown>>(`/v1/keys/${minted.body.id}/complete`, {
      user: 'alice',
      body: {},
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.object, 'users/alice/c.txt');
    assert.equal(done.body.size, 5);
    assert.equal(done.body.content_type, 'text/plain');
    const again = await json(`/v1/keys/${minted.body.id}/complete`, { user: 'alice', body: {} });
    assert.equal(again.status, 200, 'a repeated completion answers the same');
    const bob = await json(`/v1/keys/${minted.body.id}/complete`, { user: 'bob', body: {} });
    assert.equal(bob.status, 404, 'another caller learns nothing of the key');
    assert.match(JSON.stringify(bob.body), /no such upload or deletion/);
  });
});
