import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codeOf, routeIssuer } from '../../../../test/helpers/issuer-routes.js';

interface Minted {
  id: string;
  upload: { id: string; protocol: string; part_size: number; parts: number; renewals: number };
}

describe('/v1/uploads/:id (multipart, on the memory store)', () => {
  it('signs each part, lists the parts the store holds, and completes them as one object', async () => {
    const { json, memory } = await routeIssuer();
    const minted = await json<Minted>('/v1/keys', {
      user: 'alice',
      body: { op: 'put', name: 'big.txt', content_type: 'text/plain', size: 20, resumable: true },
    });
    assert.equal(minted.status, 201);
    const { upload } = minted.body;
    assert.equal(upload.protocol, 's3-multipart');
    assert.equal(upload.parts, 1);
    const part = await json<{
      part: number;
      size: number;
      url: string;
      method: string;
      headers: Record<string, string>;
    }>(`/v1/uploads/${upload.id}/parts`, { user: 'alice', body: { part: 1 } });
    assert.equal(part.status, 201);
    assert.equal(part.body.size, 20);
    const put = await memory.fetch(
      new Request(part.body.url, {
        method: part.body.method,
        headers: part.body.headers,
        body: 'x'.repeat(20),
      }),
    );
    assert.ok(put.ok);
    const state = await json<{ object: string; parts: unknown[] }>(`/v1/uploads/${upload.id}`, {
      user: 'alice',
    });
    assert.equal(state.body.object, 'users/alice/big.txt');
    assert.deepEqual(state.body.parts, [{ part: 1, size: 20 }]);
    const done = await json<{ object: string; size: number }>(`/v1/uploads/${upload.id}/complete`, {
      user: 'alice',
      body: {},
    });
    assert.equal(done.status, 200);
    assert.deepEqual([done.body.object, done.body.size], ['users/alice/big.txt', 20]);
    assert.equal(memory.objects.get('users/alice/big.txt')?.bytes.byteLength, 20);
  });

  it('keeps an upload to its owner, refuses a part past the last, and cancels on DELETE', async () => {
    const { json, call } = await routeIssuer();
    const minted = await json<Minted>('/v1/keys', {
      user: 'alice',
      body: { op: 'put', name: 'c.txt', content_type: 'text/plain', size: 20, resumable: true },
    });
    const id = minted.body.upload.id;
    const foreign = await json(`/v1/uploads/${id}`, { user: 'bob' });
    assert.equal(foreign.status, 403);
    assert.equal(codeOf(foreign.body), 'forbidden');
    const past = await json(`/v1/uploads/${id}/parts`, { user: 'alice', body: { part: 2 } });
    assert.equal(past.status, 400);
    assert.equal(codeOf(past.body), 'bad_request');
    assert.equal((await call(`/v1/uploads/${id}`, { user: 'alice', method: 'DELETE' })).status, 204);
    const cancelled = await json(`/v1/uploads/${id}`, { user: 'alice' });
    assert.equal(cancelled.status, 403);
    assert.equal(codeOf(cancelled.body), 'token_revoked', 'a cancelled upload is revoked');
    assert.equal((await json('/v1/uploads/not-an-id', { user: 'alice' })).status, 404);
  });
});
