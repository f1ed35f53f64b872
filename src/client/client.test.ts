import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValetError } from '../token/errors.js';
import { createClient } from './client.js';

type Step = 'ok' | 'network' | 503 | 413 | 'expired';

/** A fake issuer + storage: counts mints and answers storage requests from a script. */
function fake(script: Step[], options: { expiresIn?: number[] } = {}) {
  const calls = { mints: 0, storage: 0, bodies: [] as number[] };
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    if (url.endsWith('/v1/keys')) {
      const expiresIn = options.expiresIn?.[calls.mints] ?? 300_000;
      calls.mints++;
      return Response.json(
        {
          id: `k${calls.mints}`,
          object: 'users/a/f',
          url: `http://storage.test/o/users/a/f?vk=k${calls.mints}`,
          method: 'PUT',
          headers: {},
          expires_at: new Date(Date.now() + expiresIn).toISOString(),
        },
        { status: 201 },
      );
    }
    const step = script[calls.storage] ?? 'ok';
    calls.storage++;
    if (init?.body instanceof ReadableStream) {
      let n = 0;
      for await (const chunk of init.body as unknown as AsyncIterable<Uint8Array>) n += chunk.byteLength;
      calls.bodies.push(n);
    }
    if (step === 'network') throw new TypeError('fetch failed');
    if (step === 'expired')
      return Response.json({ error: { code: 'token_expired', message: 'expired' } }, { status: 403 });
    if (typeof step === 'number')
      return Response.json(
        { error: { code: step === 413 ? 'entity_too_large' : 'unavailable', message: 'x' } },
        { status: step },
      );
    return Response.json(
      {
        object: 'users/a/f',
        size: 5,
        sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
        etag: '"e"',
        content_type: 'text/plain',
      },
      { status: 201 },
    );
  };
  const client = createClient({
    issuer: 'http://issuer.test',
    getToken: () => 't',
    fetch: fetchImpl as typeof fetch,
    retryDelay: 1,
  });
  return { client, calls };
}

describe('client', () => {
  it('retries network errors and 5xx with a fresh key each time, re-sending the whole body', async () => {
    const { client, calls } = fake(['network', 503, 'ok']);
    const progress: number[] = [];
    const result = await client.upload('hello', { onProgress: (p) => progress.push(p.loaded) });
    assert.equal(result.key, 'users/a/f');
    assert.equal(calls.storage, 3);
    assert.equal(calls.mints, 3);
    assert.deepEqual(calls.bodies, [5, 5, 5]);
    assert.equal(progress.at(-1), 5);
    // Every attempt's body counts; the issuer only ever got the small key requests.
    assert.equal(result.bytes.toStorage, 15);
    assert.equal(
      result.bytes.toIssuer,
      3 * JSON.stringify({ op: 'put', size: 5, content_type: 'text/plain;charset=utf-8' }).length,
    );
    assert.equal(result.grant.id, 'k3');
  });

  it('never retries a refusal', async () => {
    const { client, calls } = fake([413]);
    await assert.rejects(client.upload('hello'), (e) => isValetError(e, 'entity_too_large'));
    assert.equal(calls.storage, 1);
  });

  it('gives up after the configured retries', async () => {
    const { client, calls } = fake(['network', 'network', 'network', 'network', 'ok']);
    await assert.rejects(client.upload('hello'), (e) => isValetError(e, 'network_error'));
    assert.equal(calls.storage, 4);
  });

  it('asks for a new key when the current one expired before the transfer started', async () => {
    // The first key is already (nearly) expired when it arrives: a second one is asked for at once.
    const local = fake([], { expiresIn: [500, 300_000] });
    await local.client.upload('hello');
    assert.equal(local.calls.mints, 2);
    assert.equal(local.calls.storage, 1);
    // Storage says the key expired (clock skew): a new key, and the upload goes through.
    const remote = fake(['expired', 'ok']);
    await remote.client.upload('hello');
    assert.equal(remote.calls.mints, 2);
    assert.equal(remote.calls.storage, 2);
  });

  it('sends a stream once: it cannot be replayed', async () => {
    const { client, calls } = fake([503, 'ok']);
    const stream = new Blob(['hello']).stream();
    await assert.rejects(client.upload(stream), (e) => isValetError(e, 'unavailable'));
    assert.equal(calls.storage, 1);
  });

  it('checks the digest it bound into the key against what storage stored', async () => {
    const { client } = fake(['ok']);
    const result = await client.upload('hello', { sha256: true });
    assert.equal(result.sha256, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    await assert.rejects(client.upload('other', { sha256: true }), (e) => isValetError(e, 'bad_digest'));
  });

  it('stops when aborted', async () => {
    const { client } = fake(['network', 'network']);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(client.upload('hello', { signal: controller.signal }), (e) =>
      isValetError(e, 'aborted'),
    );
  });

  it('validates its options', () => {
    assert.throws(
      () => createClient({ issuer: 'ftp://x', getToken: () => 't' }),
      (e) => isValetError(e, 'invalid_options'),
    );
  });
});
