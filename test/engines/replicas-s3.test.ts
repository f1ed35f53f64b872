// Several issuers, one truth, with S3 as the store: three `valet issuer` processes (each in a
// folder of its own) on one PostgreSQL sign for one Ceph bucket. S3 sends no events: clients
// report their uploads done to whichever replica, which checks the object at the store.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { cephBucket, startCeph } from '../helpers/ceph.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider } from '../helpers/oidc.js';
import { startPostgres } from '../helpers/postgres.js';
import { mintAtOnce, mintWhileKilling, query, replicaCaller, startReplicas } from '../helpers/replicas.js';
import { freePort, type RunningProcess } from '../helpers/storage.js';
import { eventually } from '../helpers/system.js';

describe('three issuer replicas on one PostgreSQL, signing for Ceph (S3)', () => {
  it('share quotas, completions and share links, and survive losing one', async (t) => {
    const { database, replicas, call } = await setUp(t);
    const replica = (i: number) => replicas[i % replicas.length] as RunningProcess;

    await t.test('200 concurrent mints over the replicas grant exactly the quota', async () => {
      const statuses = await mintAtOnce(call);
      assert.equal(statuses.filter((s) => s === 201).length, 50, 'a quota of 50 objects');
      // Free the quota again for what follows: the reservations lapse as if their keys had expired.
      await query(database, "DELETE FROM valet.objects WHERE state = 'pending'");
      await query(database, 'UPDATE valet.grants SET completed_at = 0 WHERE completed_at IS NULL');
    });

    let object = '';
    await t.test('an upload reported done to two replicas at once is recorded once', async () => {
      const body = 'to Ceph, reported twice';
      const res = await call(0, 'POST', '/v1/keys', { op: 'put', name: 'twice.txt', size: body.length });
      assert.equal(res.status, 201, await res.clone().text());
      const minted = (await res.json()) as {
        url: string;
        method: string;
        fields?: Record<string, string>;
        complete: string;
        object: string;
      };
      object = minted.object;
      if (minted.fields) {
        const form = new FormData();
        for (const [k, v] of Object.entries(minted.fields)) form.append(k, v);
        form.append('file', new Blob([body]));
        assert.ok((await fetch(minted.url, { method: 'POST', body: form })).ok);
      } else {
        assert.ok((await fetch(minted.url, { method: minted.method, body })).ok);
      }
      const route = new URL(minted.complete, replica(0).url).pathname;
      const answers = await Promise.all([call(1, 'POST', route, {}), call(2, 'POST', route, {})]);
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200],
      );
      const events = await query(database, 'SELECT id FROM valet.events WHERE object = $1', [object]);
      assert.equal(events.rowCount, 1, 'one completion recorded');
      const listed = (await (await call(2, 'GET', '/v1/objects')).json()) as {
        objects: Array<{ key: string }>;
      };
      assert.ok(listed.objects.some((o) => o.key === object));
    });

    await t.test('a share made on one replica and revoked on another is refused by all', async () => {
      const made = await call(0, 'POST', '/v1/shares', { key: object, ttl: 600 });
      assert.equal(made.status, 201);
      const link = (await made.json()) as { id: string; url: string };
      const via = (i: number) => link.url.replace(replica(0).url, replica(i).url);
      const opened = await fetch(via(2), { redirect: 'manual' });
      assert.equal(opened.status, 302);
      assert.equal(
        await (await fetch(opened.headers.get('location') as string)).text(),
        'to Ceph, reported twice',
      );
      assert.equal((await call(1, 'DELETE', `/v1/shares/${link.id}`)).status, 204);
      for (const i of [0, 1, 2]) {
        const again = await fetch(via(i), { redirect: 'manual' });
        assert.notEqual(again.status, 302, `replica ${i} still opens the link`);
        await again.body?.cancel();
      }
    });

    await t.test('a multipart upload is signed part by part on different replicas', async () => {
      const size = 11 * 2 ** 20;
      const data = randomBytes(size);
      const res = await call(0, 'POST', '/v1/keys', { op: 'put', name: 'parts.bin', size, resumable: true });
      assert.equal(res.status, 201, await res.clone().text());
      const minted = (await res.json()) as {
        object: string;
        upload: { id: string; protocol: string; parts: number; part_size: number };
      };
      assert.equal(minted.upload.protocol, 's3-multipart');
      assert.ok(minted.upload.parts >= 2);
      for (let part = 1; part <= minted.upload.parts; part++) {
        // Each part signed by another replica than the one before.
        const signed = await call(part, 'POST', `/v1/uploads/${minted.upload.id}/parts`, { part });
        assert.equal(signed.status, 201, await signed.clone().text());
        const p = (await signed.json()) as {
          url: string;
          method: string;
          headers: Record<string, string>;
          size: number;
        };
        const start = (part - 1) * minted.upload.part_size;
        const put = await fetch(p.url, {
          method: p.method,
          headers: p.headers,
          body: data.subarray(start, start + p.size),
        });
        assert.ok(put.ok, `part ${part}: ${put.status}`);
        await put.body?.cancel();
      }
      const done = await call(2, 'POST', `/v1/uploads/${minted.upload.id}/complete`, {});
      assert.equal(done.status, 200, await done.clone().text());
      const read = await call(0, 'POST', '/v1/keys', { op: 'get', key: minted.object });
      const got = Buffer.from(
        await (await fetch(((await read.json()) as { url: string }).url)).arrayBuffer(),
      );
      assert.ok(got.equals(data), 'the object is the parts in order');
    });

    await t.test('no acknowledged grant is lost when a replica is killed mid-load', async () => {
      const acknowledged = await mintWhileKilling(replicas, call, object, 1);
      assert.ok(acknowledged.length >= 100, `most mints went through (${acknowledged.length})`);
      const found = await query(database, 'SELECT id FROM valet.grants WHERE id = ANY($1)', [acknowledged]);
      assert.equal(found.rowCount, acknowledged.length, 'every acknowledged grant is recorded');
      // The two left still serve: a new upload, reported done, is listed.
      const served = await eventually(async () => {
        const res = await call(2, 'POST', '/v1/keys', { op: 'get', key: object });
        return res.status === 201 ? ((await res.json()) as { url: string }) : undefined;
      });
      assert.equal(await (await fetch(served.url)).text(), 'to Ceph, reported twice');
    });
  });
});

async function setUp(t: TestContext) {
  // Stopped by PID when the test ends, whatever happened (registered before anything else starts).
  const ceph = await startCeph();
  t.after(() => ceph.stop());
  const postgres = await startPostgres();
  t.after(() => postgres.stop());
  const database = await postgres.freshDatabase();
  const bucket = 'valet-replicas';
  await cephBucket(ceph, bucket);
  const provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
  const token = await provider.token('alice');
  const key = await testKey();
  const { keyFile } = await keyFiles([key]);
  const ports = [await freePort(), await freePort(), await freePort()];
  const replicas = await startReplicas(t, ports, {
    database,
    keyFile: keyFile(key),
    secret: randomBytes(32).toString('base64url'),
    oidcIssuer: provider.issuer,
    env: { AWS_ACCESS_KEY_ID: ceph.accessKeyId, AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey },
    config: {
      s3: { bucket, endpoint: ceph.endpoint, forcePathStyle: true, checksums: false },
      rules: {
        // S3 cannot make a presigned request single-use or revocable: the rules accept that.
        upload: {
          op: 'put',
          prefix: 'users/{subject}/',
          maxSize: '16MiB',
          ttl: '2m',
          accept: ['once', 'revocation'],
        },
        read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
        share: { op: 'share', prefix: 'users/{subject}/', ttl: '10m', accept: ['revocation'] },
      },
      quota: { maxObjects: 50 },
    },
  });
  t.after(async () => {
    for (const replica of replicas) await replica.stop('SIGTERM').catch(() => {});
  });
  return { database, replicas, call: replicaCaller(replicas, token) };
}
