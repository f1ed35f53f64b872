// Several issuers, one truth: three `valet issuer` processes, each in a folder of its own (no
// shared file, as if on three machines), keep their records in one PostgreSQL; one Valet storage
// polls and notifies all three. Callers are authenticated by a real OpenID provider.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { signRequest } from '../../src/token/signature.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider, type TestProvider } from '../helpers/oidc.js';
import { type Postgres, startPostgres } from '../helpers/postgres.js';
import { mintAtOnce, mintWhileKilling, query, replicaCaller, startReplicas } from '../helpers/replicas.js';
import { freePort, type RunningProcess, type RunningStorage, startStorage } from '../helpers/storage.js';
import { eventually } from '../helpers/system.js';

const SECRET = randomBytes(32).toString('base64url');

describe('three issuer replicas on one PostgreSQL', () => {
  it('share quotas, share links, revocations and events, and survive losing one', async (t) => {
    await setUp(t);
    t.after(tearDown);
    await t.test('200 concurrent mints over the replicas grant exactly the quota', quotaHolds);
    await t.test('a share made on one replica and revoked on another stops in time', shareRevoked);
    await t.test('a storage event posted to two replicas is recorded once', eventOnce);
    await t.test('a resumable upload renews its keys on whichever replica a request reaches', renewedAcross);
    await t.test('no acknowledged grant is lost when a replica is killed mid-load', replicaKilled);
  });

  let postgres: Postgres;
  let database: string;
  let storage: RunningStorage;
  const issuers: RunningProcess[] = [];
  let provider: TestProvider;
  let token: string;
  let call: ReturnType<typeof replicaCaller>;

  async function setUp(t: TestContext): Promise<void> {
    postgres = await startPostgres();
    database = await postgres.freshDatabase();
    provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
    token = await provider.token('alice');
    const key = await testKey();
    const { dir, jwksFile, keyFile } = await keyFiles([key]);
    await writeFile(path.join(dir, 'storage.secret'), SECRET, { mode: 0o600 });
    const ports = [await freePort(), await freePort(), await freePort()];
    storage = await startStorage({
      jwksFile,
      args: [
        ...ports.flatMap((port) => ['--issuer', `http://127.0.0.1:${port}`]),
        '--secret-file',
        path.join(dir, 'storage.secret'),
        '--revocation-max-staleness',
        '5s',
        // Keys expire when they say (the renewal test uses 2 s keys).
        '--clock-skew',
        '0s',
      ],
    });
    issuers.push(
      ...(await startReplicas(t, ports, {
        database,
        keyFile: keyFile(key),
        secret: SECRET,
        oidcIssuer: provider.issuer,
        config: {
          storageUrl: storage.url,
          rules: {
            upload: { op: 'put', prefix: 'users/{subject}/', maxSize: '1MiB', ttl: '2m' },
            read: { op: 'get', prefix: 'users/{subject}/' },
            share: { op: 'share', prefix: 'users/{subject}/', ttl: '10m' },
            slow: { op: 'put', prefix: 'users/{subject}/slow/', maxSize: '1MiB', ttl: '2s' },
          },
          quota: { maxObjects: 50 },
        },
      })),
    );
    call = replicaCaller(issuers, token);
  }

  async function tearDown(): Promise<void> {
    for (const issuer of issuers) await issuer.stop('SIGTERM').catch(() => {});
    await storage?.stop('SIGTERM').catch(() => {});
    await postgres?.stop();
  }

  const replica = (i: number) => issuers[i % issuers.length] as RunningProcess;
  async function upload(i: number, name: string, content: string): Promise<string> {
    const res = await call(i, 'POST', '/v1/keys', { op: 'put', name, size: Buffer.byteLength(content) });
    assert.equal(res.status, 201, await res.clone().text());
    const minted = (await res.json()) as { url: string; object: string };
    const put = await fetch(minted.url, { method: 'PUT', body: content });
    assert.equal(put.status, 201);
    return minted.object;
  }

  async function quotaHolds(): Promise<void> {
    const statuses = await mintAtOnce(call);
    assert.equal(statuses.filter((s) => s === 201).length, 50, 'a quota of 50 objects');
    assert.ok(
      statuses.every((s) => s === 201 || s === 403 || s === 409 || s === 413),
      String(statuses),
    );
  }

  async function shareRevoked(): Promise<void> {
    // The quota is spent by the mints above; a new database row set keeps this test independent.
    await query(database, "DELETE FROM valet.objects WHERE state = 'pending'");
    await query(database, 'UPDATE valet.grants SET completed_at = 0 WHERE completed_at IS NULL');
    const object = await upload(0, 'shared.txt', 'shared across replicas');
    // Shared once storage's event for the upload reached one of the replicas.
    const link = await eventually(async () => {
      const made = await call(0, 'POST', '/v1/shares', { key: object, ttl: 600 });
      return made.status === 201 ? ((await made.json()) as { id: string; url: string }) : undefined;
    });
    // The link opens through any replica: each redirects to storage with a key of its own.
    const opened = await fetch(link.url.replace(replica(0).url, replica(2).url), { redirect: 'manual' });
    assert.equal(opened.status, 302);
    const served = opened.headers.get('location') as string;
    // (A storage whose list is briefly stale on a loaded machine answers 503 "retry shortly".)
    const first = await eventually(async () => {
      const res = await fetch(served);
      return res.status === 503 ? void (await res.body?.cancel()) : res;
    });
    assert.equal(await first.text(), 'shared across replicas');
    const revoked = await call(1, 'DELETE', `/v1/shares/${link.id}`);
    assert.equal(revoked.status, 204);
    const at = Date.now();
    // The link itself is refused at once by every replica...
    for (const i of [0, 1, 2]) {
      const again = await fetch(link.url.replace(replica(0).url, replica(i).url), { redirect: 'manual' });
      assert.notEqual(again.status, 302, `replica ${i} still opens the link`);
      await again.body?.cancel();
    }
    // ...and the key it already handed out stops at storage within its revocation delay: 403 once
    // a poll brought the revocation, 503 if no poll succeeded within the staleness limit (5 s).
    await eventually(async () => {
      const res = await fetch(served);
      await res.body?.cancel();
      return res.status === 403 || res.status === 503 ? true : undefined;
    });
    assert.ok(Date.now() - at < 6_000, `refused after ${Date.now() - at} ms`);
  }

  async function eventOnce(): Promise<void> {
    const body = JSON.stringify({
      id: `evt_twice_${Date.now()}`,
      type: 'object.created',
      object: 'users/alice/twice.txt',
      key_id: 'k'.repeat(22),
      subject: 'alice',
      size: 5,
      content_type: 'text/plain',
      sha256: 'c'.repeat(64),
      etag: `"${'c'.repeat(64)}"`,
      time: new Date().toISOString(),
    });
    const post = async (i: number) => {
      const signature = await signRequest(SECRET, { method: 'POST', path: '/v1/events', body });
      const res = await fetch(`${replica(i).url}/v1/events`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'valet-signature': signature },
      });
      return res.status;
    };
    const statuses = await Promise.all([post(0), post(1)]);
    assert.ok(
      statuses.every((s) => s >= 200 && s < 300),
      `both replicas acknowledged it: ${statuses}`,
    );
    const rows = await query(database, 'SELECT handled_at FROM valet.events WHERE id = $1', [
      JSON.parse(body).id,
    ]);
    assert.equal(rows.rowCount, 1, 'recorded once');
    assert.notEqual(rows.rows[0].handled_at, null, 'completed (the app hook, if any, ran)');
  }

  async function renewedAcross(): Promise<void> {
    const data = randomBytes(512 * 1024);
    const seen = new Set<string>();
    let n = 0;
    const client = createClient({
      issuer: replica(0).url,
      getToken: () => token,
      resumableThreshold: 0,
      chunkSize: 32 * 1024,
      resumeStore: null,
      retryDelay: 10,
      // The client believes its keys are fresh: storage refuses them once expired (2 s keys).
      now: () => Date.now() - 3_600_000,
      // A load balancer: each call to the issuer goes to the next replica.
      fetch: async (input, init) => {
        let url = String(input instanceof Request ? input.url : input);
        if (url.startsWith(replica(0).url)) {
          const target = replica(n++).url;
          seen.add(target);
          url = target + url.slice(replica(0).url.length);
        }
        if (init?.method === 'PATCH') await new Promise((r) => setTimeout(r, 200));
        return fetch(url, init);
      },
    });
    const result = await client.upload(new Blob([data]), { name: 'renewed.bin', rule: 'slow' });
    assert.equal(result.size, data.length);
    const id = result.upload as string;
    assert.equal(result.grant.constraints.upload, id, 'the last key was a renewed one');
    const renewals = await query(
      database,
      "SELECT count(*)::int AS n FROM valet.grants WHERE constraints->>'upload' = $1",
      [id],
    );
    assert.ok(renewals.rows[0].n >= 1, `renewed ${renewals.rows[0].n} times`);
    assert.equal(seen.size, 3, 'the calls went to every replica');
  }

  async function replicaKilled(): Promise<void> {
    // The first replica: the one storage polls and notifies first.
    const acknowledged = await mintWhileKilling(issuers, call, 'users/alice/shared.txt', 0);
    assert.ok(acknowledged.length >= 100, `most mints went through (${acknowledged.length})`);
    const found = await query(database, 'SELECT id FROM valet.grants WHERE id = ANY($1)', [acknowledged]);
    assert.equal(found.rowCount, acknowledged.length, 'every acknowledged grant is recorded');
    // Storage moved on to a replica that answers: past its staleness limit (5 s) keys still work
    // (it would refuse every key with 503 if it kept polling the dead one), and the event of a
    // new upload reaches a live replica.
    await new Promise((r) => setTimeout(r, 5_500));
    const object = await upload(1, 'after.txt', 'after the loss');
    // (Kept on the dead replica, storage would answer 503 for good: here it serves, at worst after
    // a retry on a loaded machine.)
    const served = await eventually(async () => {
      const read = await call(2, 'POST', '/v1/keys', { op: 'get', key: object });
      const res = await fetch(((await read.json()) as { url: string }).url);
      return res.status === 503 ? void (await res.body?.cancel()) : res;
    });
    assert.equal(served.status, 200);
    assert.equal(await served.text(), 'after the loss');
    await eventually(async () => {
      const listed = await call(1, 'GET', '/v1/objects');
      const body = (await listed.json()) as { objects: Array<{ key: string }> };
      return body.objects.some((o) => o.key === object) ? true : undefined;
    });
  }
});
