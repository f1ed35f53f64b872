// The issuer's paths for a store that sends no events (S3, Azure), on the in-memory driver:
// completions verified from the store, uploads that break their key removed, multipart uploads
// signed part by part, constraints the store cannot enforce refused at configuration.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { testKey } from '../../test/helpers/keys.js';
import { refusal } from '../../test/helpers/system.js';
import { createClient } from '../client/client.js';
import { MemoryDriver } from '../drivers/memory.js';
import { isValetError } from '../token/errors.js';
import { createIssuer, type IssuerOptions } from './issuer.js';
import type { AnyIssuerOptions } from './options.js';

const ISSUER = 'http://issuer.test';

async function system(memory = new MemoryDriver(), overrides: Partial<AnyIssuerOptions> = {}) {
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
  } as IssuerOptions);
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
    assert.equal(await refusal(client('bob').download(result.key)), 'forbidden');
    await alice.delete(result.key);
    assert.equal(memory.objects.size, 0);
    assert.deepEqual(await alice.list(), [], 'the deletion was verified and recorded');
    // What the upload said of its object is kept on a store the issuer checks too.
    const file = new File(['hi'], 'Notes 1.txt', { type: 'text/plain' });
    await alice.upload(file, { metadata: { topic: 'drivers' } });
    const [listed] = await alice.list();
    assert.deepEqual(
      [listed?.key, listed?.filename, listed?.metadata],
      ['users/alice/Notes 1.txt', 'Notes 1.txt', { topic: 'drivers' }],
    );
  });

  it('refuses every rule the store cannot enforce in one error, with the exact accept to add', async () => {
    const memory = new MemoryDriver({ unchecked: ['once'] });
    await assert.rejects(
      system(memory, {
        rules: {
          upload: { op: 'put', prefix: 'users/{subject}/', accept: ['revocation'] },
          read: { op: 'get', prefix: 'users/{subject}/' },
          fine: { op: 'get', prefix: 'public/', accept: ['revocation'] },
        },
      }),
      {
        code: 'invalid_options',
        message:
          'the memory driver cannot enforce what these rules set: rule "upload" sets once; rule "read" ' +
          "sets revocation. Add to each: upload: { accept: ['revocation', 'once'] }, read: { accept: " +
          "['revocation'] } (revocation is on every key and the memory driver's URLs cannot be revoked, so " +
          'a rule accepts that; once can be accepted, or turned off with once: false)',
      },
    );
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

  it('takes a completion with an empty body, with or without Content-Type: application/json', async () => {
    const { issuer, memory } = await system();
    const types: Array<Record<string, string>> = [
      {},
      { 'content-type': 'application/json' },
      { 'content-type': 'application/json; charset=utf-8' },
    ];
    for (const headers of types) {
      const key = await issuer.mint('alice', { op: 'put', name: 'empty-body.txt' });
      assert.equal((await memory.fetch(new Request(key.url, { method: 'PUT', body: 'hi' }))).status, 200);
      const done = await issuer.fetch(
        new Request(`${ISSUER}${key.complete}`, {
          method: 'POST',
          headers: { authorization: 'Bearer user:alice', ...headers },
        }),
      );
      assert.equal(done.status, 200, JSON.stringify(headers));
    }
    const key = await issuer.mint('alice', { op: 'put', name: 'empty-body.txt' });
    const wrongType = await issuer.fetch(
      new Request(`${ISSUER}${key.complete}`, {
        method: 'POST',
        headers: { authorization: 'Bearer user:alice', 'content-type': 'text/plain' },
        body: '{}',
      }),
    );
    assert.equal(wrongType.status, 415, 'a body that is there must still be JSON');
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
    const { issuer } = await system(memory, {
      rules: { upload: { op: 'put', prefix: 'u/', once: true, maxSize: 10, accept: ['revocation', 'once'] } },
    });
    // The key says what is enforced, and what its rule accepted that nothing enforces.
    const key = await issuer.mint('alice', { op: 'put', name: 'a.txt' });
    assert.equal(key.constraints.once, undefined, 'not reported as single-use: nothing makes it so');
    assert.equal(key.constraints.max_size, 10);
    assert.deepEqual(key.unenforced, ['once', 'revocation']);
    const wire = (await (
      await issuer.fetch(
        new Request(`${ISSUER}/v1/keys`, {
          method: 'POST',
          headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
          body: JSON.stringify({ op: 'put', name: 'b.txt' }),
        }),
      )
    ).json()) as { constraints: Record<string, unknown>; unenforced: string[] };
    assert.deepEqual(wire.unenforced, ['once', 'revocation']);
    assert.equal(wire.constraints.once, undefined);
  });
});

describe('uploads nobody reported (in-memory driver, injected clock)', () => {
  async function clocked(overrides: Partial<AnyIssuerOptions> = {}) {
    let now = Date.parse('2026-11-29T10:00:00Z');
    const clock = () => now;
    const memory = new MemoryDriver({ unchecked: ['size', 'max_size', 'content_types'], now: clock });
    const parts = await system(memory, { now: clock, ...overrides });
    const put = async (name: string, body: string, request: Record<string, unknown> = {}) => {
      const key = await parts.issuer.mint('alice', { op: 'put', name, ...request });
      const res = await memory.fetch(new Request(key.url, { method: 'PUT', headers: key.headers, body }));
      assert.equal(res.status, 200);
      return key;
    };
    /** Writes an object with the store's own authority (no key), dated by the clock. */
    const writeDirect = (name: string, text: string, etag: string, contentType = 'text/plain') =>
      memory.objects.set(`users/alice/${name}`, {
        bytes: new TextEncoder().encode(text),
        contentType,
        etag,
        sha256: 'x',
        modifiedAt: clock(),
      });
    return { ...parts, put, writeDirect, advance: (ms: number) => (now += ms), clock };
  }

  it('records an unreported upload that keeps its key, once its key has expired', async (t) => {
    const { issuer, put, advance } = await clocked();
    t.after(() => issuer.close());
    await put('kept.txt', 'hello', { size: 5, contentType: 'text/plain' });
    assert.equal(await issuer.checkUnreportedUploads(), 0, 'not while the key is valid');
    assert.deepEqual(await issuer.list('alice'), []);
    advance(301_000); // the rule's 300 s TTL
    assert.equal(
      await issuer.checkUnreportedUploads(),
      0,
      'not in the minute the client still has to report',
    );
    advance(60_000);
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.deepEqual(
      (await issuer.list('alice')).map((o) => [o.key, o.size]),
      [['users/alice/kept.txt', 5]],
    );
    assert.equal(await issuer.checkUnreportedUploads(), 0, 'each key is looked at once');
  });

  it('removes an unreported upload that breaks its key, and leaves what was recorded alone', async (t) => {
    const { issuer, memory, put, advance } = await clocked();
    t.after(() => issuer.close());
    await put('big.bin', 'much more than three', { size: 3 });
    // An earlier object, recorded, then a key for it that was never used.
    const first = await put('old.txt', 'first', { size: 5 });
    await issuer.fetch(
      new Request(`${ISSUER}${first.complete}`, {
        method: 'POST',
        headers: { authorization: 'Bearer user:alice' },
      }),
    );
    await issuer.mint('alice', { op: 'put', name: 'old.txt', size: 1 });
    advance(361_000);
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.equal(memory.objects.has('users/alice/big.bin'), false, 'the store no longer holds it');
    assert.equal(memory.objects.has('users/alice/old.txt'), true);
    assert.deepEqual(
      (await issuer.list('alice')).map((o) => o.key),
      ['users/alice/old.txt'],
    );
  });

  it('waits while a later key for the object may still be reported, and counts what it records', async (t) => {
    const { issuer, put, advance } = await clocked({ quota: { maxBytes: 8 } });
    t.after(() => issuer.close());
    await put('a.txt', 'hello', { size: 5 });
    advance(200_000);
    await issuer.mint('alice', { op: 'put', name: 'a.txt', size: 5 }); // valid until +500 s
    advance(161_000);
    assert.equal(await issuer.checkUnreportedUploads(), 0, 'the later key is still valid');
    advance(200_000);
    // The later key lapsed unused: the object is the first key's upload, and it is recorded.
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.deepEqual((await issuer.records.usage('alice', Date.parse('2026-11-29T11:00:00Z'))).bytes, 5);
    // Counted: the quota has room for 3 more bytes, not 5.
    assert.equal(
      await refusal(issuer.mint('alice', { op: 'put', name: 'b.txt', size: 5 })),
      'quota_exceeded',
    );
  });

  it('looks again at a key used after its completion: an overwrite that breaks it is removed', async (t) => {
    const { issuer, memory, put, advance } = await clocked();
    t.after(() => issuer.close());
    const complete = (key: { complete?: string }) =>
      issuer.fetch(
        new Request(`${ISSUER}${key.complete}`, {
          method: 'POST',
          headers: { authorization: 'Bearer user:alice' },
        }),
      );
    const key = await put('note.txt', 'hello', { size: 5, contentType: 'text/plain' });
    assert.equal((await complete(key)).status, 200);
    // The same key, used again: 5 MiB of HTML where 5 bytes of text were allowed.
    const html = '<b>x</b>'.repeat(655_360);
    const again = await memory.fetch(
      new Request(key.url, {
        method: 'PUT',
        headers: { ...key.headers, 'content-type': 'text/html' },
        body: html,
      }),
    );
    assert.equal(again.status, 200, 'the store took it (it cannot make the key single-use)');
    advance(361_000);
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.equal(memory.objects.has('users/alice/note.txt'), false, 'the store no longer holds it');
    assert.deepEqual(await issuer.list('alice'), [], 'the version it replaced is gone too');
    assert.deepEqual((await issuer.records.usage('alice', Date.parse('2026-11-29T11:00:00Z'))).bytes, 0);
  });

  it('records an overwrite with a completed key that keeps the key, as the new version', async (t) => {
    const { issuer, memory, put, advance } = await clocked();
    t.after(() => issuer.close());
    const key = await put('v.txt', 'one', { size: 3, contentType: 'text/plain' });
    await issuer.fetch(
      new Request(`${ISSUER}${key.complete}`, {
        method: 'POST',
        headers: { authorization: 'Bearer user:alice' },
      }),
    );
    const before = (await issuer.list('alice'))[0]?.etag;
    await memory.fetch(new Request(key.url, { method: 'PUT', headers: key.headers, body: 'two' }));
    advance(361_000);
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    const after = await issuer.list('alice');
    assert.equal(after.length, 1);
    assert.notEqual(after[0]?.etag, before, 'the store’s version is the recorded one');
    assert.equal(after[0]?.etag, memory.objects.get('users/alice/v.txt')?.etag);
    assert.equal(await issuer.checkUnreportedUploads(), 0, 'each key is looked at once');
  });

  it("removes a whole object written while only a part's key was valid, and never a completed upload", async (t) => {
    const { issuer, memory, advance, writeDirect, client } = await clocked();
    t.after(() => issuer.close());
    // A multipart upload the issuer completed: its version, left alone.
    const done = new Uint8Array(9 * 2 ** 20);
    await client('alice').upload(new Blob([done]), { name: 'done.bin', resumable: true });
    const size = 9 * 2 ** 20;
    const created = await issuer.mint('alice', { op: 'put', name: 'big.bin', size, resumable: true });
    const signPart = (part: number) =>
      issuer.fetch(
        new Request(`${ISSUER}/v1/uploads/${created.upload?.id}/parts`, {
          method: 'POST',
          headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
          body: JSON.stringify({ part }),
        }),
      );
    assert.equal((await signPart(1)).status, 201);
    advance(400_000); // the creating key has lapsed; the part's key is the one valid now
    assert.equal((await signPart(2)).status, 201);
    advance(1_000);
    // With a part's key, a whole object (what an Azure block SAS stripped of its block id allows).
    writeDirect('big.bin', 'a whole blob nobody sees', '"stray"', 'application/octet-stream');
    advance(24 * 3600_000); // every key lapsed, the upload's life too
    assert.equal(await issuer.checkUnreportedUploads(), 1);
    assert.equal(memory.objects.has('users/alice/big.bin'), false, 'the stray object is removed');
    assert.equal(memory.objects.has('users/alice/done.bin'), true, 'the completed upload stays');
    assert.deepEqual(
      (await issuer.list('alice')).map((o) => o.key),
      ['users/alice/done.bin'],
    );
  });

  it('leaves an object written after its key expired (not that key’s upload)', async (t) => {
    const { issuer, memory, advance, writeDirect } = await clocked();
    t.after(() => issuer.close());
    await issuer.mint('alice', { op: 'put', name: 'later.txt', size: 5 });
    advance(400_000);
    // Someone with the store's own authority writes it afterwards.
    writeDirect('later.txt', 'other bytes', '"x"');
    assert.equal(await issuer.checkUnreportedUploads(), 0);
    assert.equal(memory.objects.has('users/alice/later.txt'), true);
  });

  it('runs one pass of stale-upload aborts at a time: a pass asked for ends after the running one', async () => {
    const memory = new MemoryDriver();
    const resumable = memory.resumable as NonNullable<typeof memory.resumable>;
    const log: string[] = [];
    let running = 0;
    resumable.abortStale = async () => {
      running++;
      log.push(`start ${running}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      running--;
      log.push('end');
      return 0;
    };
    const { issuer } = await system(memory);
    // The issuer started a pass of its own at creation; two more are asked for at once.
    await Promise.all([issuer.abortStaleUploads(), issuer.abortStaleUploads()]);
    // Each call returned after its own pass ended; the start-up pass may come before or after.
    assert.ok(log.filter((l) => l === 'end').length >= 2, `${log}`);
    await issuer.abortStaleUploads();
    assert.equal(log.at(-1), 'end');
    assert.ok(!log.includes('start 2'), `passes overlapped: ${log}`);
  });
});
