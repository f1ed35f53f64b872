// End-to-end: issuer (served over HTTP by the test) + `valet storage` (spawned) + the client.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ValetError } from '../../src/token/errors.js';
import { eventually, startSystem } from '../helpers/system.js';

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ValetError, `expected a ValetError, got ${error}`);
    return error.code;
  }
  assert.fail('expected a refusal');
}

describe('issuer and storage together', () => {
  it('uploads straight to storage: the bytes never pass through the issuer', async (t) => {
    const sys = await startSystem(t);
    const alice = sys.client('alice');
    const data = randomBytes(8 * 2 ** 20);
    const before = sys.served.bytesIn();
    const progress: number[] = [];
    const result = await alice.upload(new Blob([data]), {
      name: 'big.bin',
      sha256: true,
      onProgress: (p) => progress.push(p.loaded),
    });
    assert.equal(result.key, 'users/alice/big.bin');
    assert.equal(result.size, data.length);
    assert.equal(progress.at(-1), data.length);
    const issuerBytes = sys.served.bytesIn() - before;
    assert.ok(issuerBytes < 16 * 1024, `the issuer received ${issuerBytes} bytes for an 8 MiB upload`);

    const download = await alice.download(result.key);
    assert.deepEqual(Buffer.from(await (await download.blob()).arrayBuffer()), data);
    const listed = await eventually(async () => (await alice.list()).find((o) => o.key === result.key));
    assert.equal(listed.size, data.length);
    assert.equal(listed.sha256, result.sha256);
  });

  it("keeps bob away from alice's objects: no read, overwrite, delete, share or listing", async (t) => {
    const sys = await startSystem(t);
    const alice = sys.client('alice');
    const bob = sys.client('bob');
    const { key } = await alice.upload(new Blob(['alice only']), { name: 'secret.txt' });
    await eventually(async () => ((await alice.list()).length === 1 ? true : undefined));

    assert.equal(await refusal(bob.download(key)), 'forbidden');
    assert.equal(await refusal(bob.delete(key)), 'forbidden');
    assert.equal(await refusal(bob.share(key, { ttl: 60 })), 'forbidden');
    // bob's proposed name is confined to his own prefix, never alice's.
    const confined = await bob.upload(new Blob(['bob']), { name: 'users/alice/secret.txt' });
    assert.equal(confined.key, 'users/bob/users/alice/secret.txt');
    assert.deepEqual(
      (
        await eventually(async () => {
          const objects = await bob.list();
          return objects.length === 1 ? objects : undefined;
        })
      ).map((o) => o.key),
      ['users/bob/users/alice/secret.txt'],
    );
    const still = await alice.download(key);
    assert.equal(await (await still.blob()).text(), 'alice only');
  });

  it('tells the caller their rules, limits, quota and usage before any file is picked (GET /v1/me)', async (t) => {
    const sys = await startSystem(t, {
      issuer: {
        quota: { maxBytes: 10 * 2 ** 20, maxObjects: 5 },
        rules: {
          photos: {
            op: 'put',
            prefix: 'users/{subject}/',
            maxSize: 2 ** 20,
            contentTypes: ['image/*'],
            ttl: 120,
          },
          read: { op: 'get', prefix: 'users/{subject}/' },
          share: { op: 'share', prefix: 'users/{subject}/' },
        },
      },
    });
    const alice = sys.client('alice');
    const before = await alice.me();
    assert.deepEqual(before, {
      subject: 'alice',
      rules: [
        {
          name: 'photos',
          op: 'put',
          prefix: 'users/alice/',
          maxSize: 2 ** 20,
          contentTypes: ['image/*'],
          ttl: 120,
        },
        { name: 'read', op: 'get', prefix: 'users/alice/', ttl: 300 },
        { name: 'share', op: 'share', prefix: 'users/alice/' },
      ],
      quota: { maxBytes: 10 * 2 ** 20, maxObjects: 5, usedBytes: 0, usedObjects: 0 },
    });
    await alice.upload(new Blob([new Uint8Array(1000)], { type: 'image/png' }), { name: 'a.png' });
    const after = await eventually(async () => {
      const me = await alice.me();
      return me.quota.usedObjects === 1 ? me : undefined;
    });
    assert.equal(after.quota.usedBytes, 1000);
    assert.equal((await sys.client('bob').me()).rules[0]?.prefix, 'users/bob/');
    assert.equal((await fetch(`${sys.served.url}/v1/me`)).status, 401);
  });

  it('refuses a bad page of the listing with 400 bad_request, never a 5xx', async (t) => {
    const sys = await startSystem(t);
    for (const query of [
      'limit=0',
      'limit=1001',
      'limit=1.5',
      'limit=x',
      `prefix=${'a'.repeat(1025)}`,
      `after=${'a'.repeat(1025)}`,
    ]) {
      const response = await fetch(`${sys.served.url}/v1/objects?${query}`, {
        headers: { authorization: 'Bearer user:alice' },
      });
      assert.equal(response.status, 400, query);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'bad_request', query);
    }
    const fine = await fetch(`${sys.served.url}/v1/objects?limit=1000&prefix=users/alice/`, {
      headers: { authorization: 'Bearer user:alice' },
    });
    assert.deepEqual(await fine.json(), { objects: [], next: null });
  });

  it('refuses names that try to leave the caller prefix', async (t) => {
    const sys = await startSystem(t);
    const alice = sys.client('alice');
    for (const name of [
      '../bob/x',
      '/etc/passwd',
      'a/../../bob/x',
      'a/./b',
      'a//b',
      'a\\b',
      '..',
      'x\u0000y',
    ]) {
      assert.equal(await refusal(alice.upload(new Blob(['x']), { name })), 'invalid_object_key', name);
    }
  });

  it('enforces quotas at minting, and again at completion with the real size', async (t) => {
    let maxBytes = 1000;
    const completed: string[] = [];
    const sys = await startSystem(t, {
      issuer: {
        quota: () => ({ maxBytes, maxObjects: 2 }),
        onUploadComplete: (u) => {
          completed.push(u.object);
        },
      },
    });
    const alice = sys.client('alice');
    await alice.upload(new Blob([Buffer.alloc(600)]), { name: 'a' });
    assert.equal(await refusal(alice.upload(new Blob([Buffer.alloc(600)]), { name: 'b' })), 'quota_exceeded');
    // An overwrite replaces the old bytes instead of adding to them.
    await eventually(async () => (completed.includes('users/alice/a') ? true : undefined));
    await alice.upload(new Blob([Buffer.alloc(700)]), { name: 'a' });
    await alice.upload(new Blob([Buffer.alloc(100)]), { name: 'b' });
    await assert.rejects(alice.upload(new Blob(['x']), { name: 'c' }), {
      code: 'quota_exceeded',
      message:
        'this upload would exceed your storage quota: you have 2 of your 2 objects; delete objects to make room',
    });
    await eventually(async () => ((await alice.list()).length === 2 ? true : undefined));

    // The quota shrinks between minting and completion: the upload is removed when storage reports it.
    const bob = sys.client('bob');
    const key = await sys.issuer.mint('bob', { op: 'put', name: 'late.bin', size: 800 });
    maxBytes = 500;
    const put = await fetch(key.url, { method: 'PUT', body: Buffer.alloc(800) });
    assert.equal(put.status, 201);
    // The client that passes its receipt on is told why, in numbers.
    const { receipt } = (await put.json()) as { receipt: unknown };
    const complete = await fetch(`${sys.served.url}${key.complete}`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:bob', 'content-type': 'application/json' },
      body: JSON.stringify({ receipt }),
    });
    assert.deepEqual(((await complete.json()) as { error: unknown }).error, {
      code: 'quota_exceeded',
      message:
        'the upload was removed: it would exceed your storage quota: it needs 800 bytes and you use ' +
        '0 bytes of your 500 bytes (500 bytes left)',
    });
    await eventually(async () =>
      (await sys.issuer.records.listEvents('users/bob/late.bin')).some((e) => e.type === 'object.deleted')
        ? true
        : undefined,
    );
    assert.deepEqual(await bob.list(), []);
    assert.equal(await refusal(bob.download('users/bob/late.bin')), 'not_found');
    assert.ok(
      !completed.includes('users/bob/late.bin'),
      'onUploadComplete is not called for a removed upload',
    );
  });

  it('stops a revoked share link at once, and keys it handed out within the revocation delay', async (t) => {
    const sys = await startSystem(t);
    const alice = sys.client('alice');
    const { key } = await alice.upload(new Blob(['shared bytes']), { name: 'doc.txt' });
    await eventually(async () => ((await alice.list()).length === 1 ? true : undefined));
    const link = await alice.share(key, { ttl: 600 });

    const opened = await fetch(link.url, { redirect: 'manual' });
    assert.equal(opened.status, 302);
    const storageUrl = opened.headers.get('location') as string;
    assert.ok(storageUrl.startsWith(sys.storage.url));
    const first = await fetch(storageUrl);
    assert.equal(await first.text(), 'shared bytes');

    await alice.unshare(link.id);
    const revokedAt = Date.now();
    assert.equal((await fetch(link.url, { redirect: 'manual' })).status, 404);
    const refused = await eventually(async () => {
      const response = await fetch(storageUrl);
      const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
      return response.status === 403 ? body.error?.code : undefined;
    }, 10_000);
    assert.equal(refused, 'token_revoked');
    const delay = Date.now() - revokedAt;
    assert.ok(delay <= 5_000, `the revocation took ${delay} ms to reach storage`);
    // Only the owner may revoke a share; others get not_found.
    const second = await alice.share(key, { ttl: 60 });
    assert.equal(await refusal(sys.client('bob').unshare(second.id)), 'not_found');
  });

  it('records every grant and completion with who, what, where from', async (t) => {
    const sys = await startSystem(t);
    const alice = sys.client('alice');
    const { key } = await alice.upload(new Blob(['audit me']), {
      name: 'audit.txt',
      contentType: 'text/plain',
    });
    await eventually(async () => ((await alice.list()).length === 1 ? true : undefined));
    await (await alice.download(key)).blob();
    await alice.delete(key);
    const events = await eventually(async () => {
      const list = await sys.issuer.records.listEvents(key);
      return list.length === 2 ? list : undefined;
    });
    assert.deepEqual(
      events.map((e) => [e.type, e.subject, e.object]),
      [
        ['object.created', 'alice', key],
        ['object.deleted', 'alice', key],
      ],
    );
    for (const event of events) {
      const grant = await sys.issuer.records.getGrant(event.keyId);
      assert.ok(grant, 'every event refers to a recorded grant');
      assert.equal(grant.subject, 'alice');
      assert.equal(grant.object, key);
      assert.equal(grant.clientAddress, '127.0.0.1');
      assert.match(grant.userAgent ?? '', /node|undici/i);
      assert.ok(grant.completedAt !== null);
      assert.equal(grant.op, event.type === 'object.created' ? 'put' : 'delete');
    }
    const put = await sys.issuer.records.getGrant((events[0] as { keyId: string }).keyId);
    assert.deepEqual(put?.constraints, { size: 8, content_types: ['text/plain'], once: true, rev: 600 });
    assert.deepEqual(await alice.list(), []);
  });
});
