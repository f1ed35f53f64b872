// The issuer's paths for a store that sends no events (S3, Azure), on the in-memory driver:
// completions verified from the store, uploads that break their key removed, multipart uploads
// signed part by part, constraints the store cannot enforce refused at configuration.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { testKey } from '../../test/helpers/keys.js';
import { createClient } from '../client/client.js';
import { MemoryDriver } from '../drivers/memory.js';
import { isValetError, ValetError } from '../token/errors.js';
import { createIssuer, type IssuerOptions } from './issuer.js';

const ISSUER = 'http://issuer.test';

async function system(memory = new MemoryDriver(), overrides: Partial<IssuerOptions> = {}) {
  const issuer = await createIssuer({
    signingKeys: [(await testKey()).jwk],
    database: ':memory:',
    driver: memory,
    storageSecret: 's'.repeat(43),
    authenticate: (request) =>
      /^Bearer user:(\w+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null,
    rules: {
      upload: {
        op: 'put',
        prefix: 'users/{subject}/',
        maxSize: 64 * 2 ** 20,
        once: false,
        accept: ['revocation'],
      },
      read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
      remove: { op: 'delete', prefix: 'users/{subject}/', accept: ['revocation'] },
    },
    ...overrides,
  });
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(new URL(String(input instanceof Request ? input.url : input), ISSUER), init);
    return request.url.startsWith(memory.origin) ? memory.fetch(request) : issuer.fetch(request);
  };
  const client = (user: string) =>
    createClient({
      issuer: ISSUER,
      getToken: () => `user:${user}`,
      fetch: fetch as typeof globalThis.fetch,
      resumeStore: null,
      retryDelay: 1,
    });
  return { issuer, memory, client };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ValetError, String(error));
    return error.code;
  }
  assert.fail('expected a refusal');
}

describe('issuer with a store that sends no events (in-memory driver)', () => {
  it('verifies an upload from the store, then lists, reads and deletes it', async () => {
    const { client, memory } = await system();
    const alice = client('alice');
    const result = await alice.upload(new Blob(['hello'], { type: 'text/plain' }), { name: 'a.txt' });
    assert.equal(result.key, 'users/alice/a.txt');
    assert.equal(memory.objects.get('users/alice/a.txt')?.contentType, 'text/plain');
    assert.deepEqual(
      (await alice.list()).map((o) => [o.key, o.size]),
      [['users/alice/a.txt', 5]],
    );
    assert.equal(await (await (await alice.download(result.key)).blob()).text(), 'hello');
    assert.equal(await code(client('bob').download(result.key)), 'forbidden');
    await alice.delete(result.key);
    assert.equal(memory.objects.size, 0);
    assert.deepEqual(await alice.list(), [], 'the deletion was verified and recorded');
  });

  it('removes an upload that breaks its key where the store did not check it', async () => {
    const memory = new MemoryDriver({ unchecked: ['size'] });
    const { issuer } = await system(memory);
    const key = await issuer.mint('alice', { op: 'put', name: 'b.bin', size: 3 });
    assert.equal(key.complete, `/v1/keys/${key.id}/complete`);
    assert.equal((await memory.fetch(new Request(key.url, { method: 'PUT', body: 'four' }))).status, 200);
    const done = await issuer.fetch(
      new Request(`${ISSUER}${key.complete}`, {
        method: 'POST',
        headers: { authorization: 'Bearer user:alice' },
      }),
    );
    assert.equal(done.status, 422);
    assert.equal(((await done.json()) as { error: { code: string } }).error.code, 'upload_rejected');
    assert.equal(memory.objects.size, 0, 'the store no longer holds it');
    assert.deepEqual(await issuer.list('alice'), []);
  });

  it('signs a multipart upload part by part and completes it from what the store holds', async () => {
    const { client, memory } = await system();
    const data = randomBytes(9 * 2 ** 20);
    const result = await client('alice').upload(new Blob([data]), { name: 'big.bin', resumable: true });
    assert.equal(result.size, data.length);
    assert.deepEqual(Buffer.from(memory.objects.get('users/alice/big.bin')?.bytes ?? []), data);
  });

  it('refuses, at configuration, a rule setting what the store cannot enforce unless it accepts it', async () => {
    const memory = new MemoryDriver({ unchecked: ['once'] });
    await assert.rejects(
      system(memory, { rules: { upload: { op: 'put', prefix: 'u/', once: true, accept: ['revocation'] } } }),
      (e) => isValetError(e, 'invalid_options') && /cannot enforce/.test(e.message),
    );
    await system(memory, {
      rules: { upload: { op: 'put', prefix: 'u/', once: true, accept: ['revocation', 'once'] } },
    });
  });
});
