import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { testKey } from '../../../test/helpers/keys.js';
import { type Postgres, startPostgres } from '../../../test/helpers/postgres.js';
import { signRequest } from '../../token/signature.js';
import { createIssuer } from '../issuer.js';
import { recordStoreContract } from './contract.js';
import { PostgresRecordStore } from './postgres-records.js';
import { migrations } from './postgres-schema.js';
import type { GrantRecord, RecordStore } from './records.js';

// A real PostgreSQL (Debian's package), started for this file and stopped by PID at its end.
let server: Postgres;
const stores: RecordStore[] = [];
const serverReady = startPostgres().then((s) => {
  server = s;
  return s;
});
after(async () => {
  for (const store of stores) await store.close().catch(() => {});
  await (await serverReady).stop();
});

async function openStore(url?: string, schema?: string): Promise<PostgresRecordStore> {
  const s = await serverReady;
  const store = await PostgresRecordStore.open(url ?? (await s.freshDatabase()), { schema });
  stores.push(store);
  return store;
}

recordStoreContract('PostgreSQL', () => openStore());

const T0 = 1_800_000_000_000;
let n = 0;
function putGrant(subject: string, object: string, bytes: number): GrantRecord {
  n++;
  return {
    id: `pg-grant-${String(n).padStart(10, '0')}`,
    subject,
    op: 'put',
    object,
    rule: 'upload',
    constraints: {},
    issuedAt: T0,
    expiresAt: T0 + 300_000,
    kid: 'kid',
    clientAddress: null,
    userAgent: null,
    shareId: null,
    reservedBytes: bytes,
    completedAt: null,
  };
}

describe('PostgreSQL records shared by several issuers', () => {
  let url: string;
  before(async () => {
    url = await (await serverReady).freshDatabase();
  });

  it('migrates once when replicas start together, and opens a migrated store as it is', async () => {
    const replicas = await Promise.all([openStore(url), openStore(url), openStore(url)]);
    assert.equal(replicas.length, 3);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const versions = await client.query('SELECT version FROM valet.schema_version');
      assert.deepEqual(
        versions.rows.map((r) => r.version),
        [1, 2, 3, 4, 5],
        'each migration ran once',
      );
    } finally {
      await client.end();
    }
  });

  it('brings a schema of version 1 up to date: links bound to their version, descriptions', async () => {
    const fresh = await (await serverReady).freshDatabase();
    const client = new pg.Client({ connectionString: fresh });
    await client.connect();
    try {
      // What version 1 made, with one object and one share link in it.
      await client.query('CREATE SCHEMA valet');
      await client.query('CREATE TABLE valet.schema_version (version INTEGER NOT NULL)');
      await client.query(migrations('"valet"')[1] as string);
      await client.query('INSERT INTO valet.schema_version (version) VALUES (1)');
      await client.query(`INSERT INTO valet.objects (key, owner, state, size, content_type, sha256, etag, created_at, updated_at)
        VALUES ('a', 'alice', 'complete', 1, 'text/plain', 'x', '"v1"', 1, 1)`);
      await client.query(`INSERT INTO valet.shares (id, secret_hash, object, owner, created_at, expires_at)
        VALUES ('shr_old', 'h', 'a', 'alice', 1, 9999999999999)`);
    } finally {
      await client.end();
    }
    const store = await openStore(fresh);
    assert.equal((await store.getShare('shr_old'))?.etag, '"v1"');
    // Version 3: objects and keys say what their upload said of them; old ones say nothing.
    assert.equal((await store.getObject('a'))?.description, undefined);
    const g = { ...putGrant('alice', 'b', 1), description: { filename: 'B.txt' } };
    await store.reserveUpload(g, {}, T0);
    assert.deepEqual((await store.getGrant(g.id))?.description, { filename: 'B.txt' });
  });

  it('never grants past a quota when replicas reserve at once', async () => {
    const replicas = await Promise.all([openStore(url), openStore(url), openStore(url)]);
    const quota = { maxObjects: 50 };
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (replicas[i % 3] as RecordStore).reserveUpload(putGrant('carol', `carol/${i}`, 1), quota, T0),
      ),
    );
    assert.equal(results.filter((r) => r.ok).length, 50, 'exactly the quota');
    assert.deepEqual(await (replicas[0] as RecordStore).usage('carol', T0), { bytes: 50, objects: 50 });
  });

  it('records a storage event once when it reaches two replicas at once', async () => {
    const [a, b] = await Promise.all([openStore(url), openStore(url)]);
    const g = putGrant('dave', 'dave/x', 10);
    assert.equal((await (a as RecordStore).reserveUpload(g, {}, T0)).ok, true);
    const event = {
      id: 'evt-twice',
      type: 'object.created' as const,
      object: g.object,
      keyId: g.id,
      subject: g.subject,
      size: 10,
      contentType: 'text/plain',
      sha256: 'b'.repeat(64),
      etag: `"${'b'.repeat(64)}"`,
      time: new Date(T0).toISOString(),
      receivedAt: T0 + 1000,
    };
    const outcomes = await Promise.all([
      (a as RecordStore).recordEvent(event),
      (b as RecordStore).recordEvent(event),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.recorded).sort(),
      [false, true],
      'one replica recorded it, the other saw a redelivery',
    );
    assert.equal((await (b as RecordStore).listEvents('dave/x')).length, 1);
  });

  it('keeps each schema apart, and refuses a schema name that is not a plain identifier', async () => {
    const other = await openStore(url, 'valet_other');
    assert.deepEqual(
      await other.usage('carol', T0),
      { bytes: 0, objects: 0 },
      'another schema, other records',
    );
    await assert.rejects(
      openStore(url, 'x"; DROP TABLE y; --'),
      /schema must be a lower-case SQL identifier/,
    );
  });

  it('refuses a store made by a newer version', async () => {
    const fresh = await (await serverReady).freshDatabase();
    await openStore(fresh);
    const client = new pg.Client({ connectionString: fresh });
    await client.connect();
    await client.query('INSERT INTO valet.schema_version (version) VALUES (99)');
    await client.end();
    await assert.rejects(openStore(fresh), /made by a newer valet \(schema 99/);
  });

  it('is what an issuer uses for a postgres:// database', async () => {
    const db = await (await serverReady).freshDatabase();
    const key = await testKey();
    const options = {
      signingKeys: [key.jwk],
      database: db,
      storageUrl: 'http://storage.test',
      storageSecret: 's'.repeat(43),
      authenticate: () => 'erin',
      rules: { upload: { op: 'put' as const, prefix: 'users/{subject}/', maxSize: 1000 } },
      quota: { maxObjects: 1 },
    };
    const [one, two] = await Promise.all([createIssuer(options), createIssuer(options)]);
    try {
      const minted = await one.mint('erin', { op: 'put', name: 'a', size: 10 });
      assert.equal(minted.object, 'users/erin/a');
      // The other issuer sees the grant and the quota it took.
      await assert.rejects(two.mint('erin', { op: 'put', name: 'b', size: 10 }), /quota/);
      assert.equal((await two.records.usage('erin', Date.now())).objects, 1);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it("runs the app's hook at least once for an event that reaches two issuers at once", async () => {
    const db = await (await serverReady).freshDatabase();
    const key = await testKey();
    const secret = 's'.repeat(43);
    const hooked: string[] = [];
    const options = {
      signingKeys: [key.jwk],
      database: db,
      storageUrl: 'http://storage.test',
      storageSecret: secret,
      authenticate: () => 'erin',
      rules: { upload: { op: 'put' as const, prefix: 'users/{subject}/' } },
      onUploadComplete: (upload: { eventId: string }) => {
        hooked.push(upload.eventId);
      },
    };
    const [one, two] = await Promise.all([createIssuer(options), createIssuer(options)]);
    try {
      const minted = await one.mint('erin', { op: 'put', name: 'both.txt', size: 4 });
      const body = JSON.stringify({
        id: 'evt_both',
        type: 'object.created',
        time: new Date().toISOString(),
        object: minted.object,
        key_id: minted.id,
        subject: 'erin',
        size: 4,
        content_type: 'text/plain',
        sha256: 'd'.repeat(64),
        etag: `"${'d'.repeat(64)}"`,
      });
      const deliver = async (issuer: typeof one) =>
        issuer.fetch(
          new Request('http://issuer.test/v1/events', {
            method: 'POST',
            body,
            headers: {
              'content-type': 'application/json',
              'valet-signature': await signRequest(secret, { method: 'POST', path: '/v1/events', body }),
            },
          }),
        );
      const answers = await Promise.all([deliver(one), deliver(two)]);
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200],
      );
      assert.ok(hooked.length >= 1, 'the hook ran');
      assert.ok(hooked.every((id) => id === 'evt_both'));
      assert.equal((await one.records.listEvents(minted.object)).length, 1, 'recorded once');
      // A later redelivery, to either, does not run it again.
      const before = hooked.length;
      await deliver(two);
      await deliver(one);
      assert.equal(hooked.length, before);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('stops signing, on every issuer, with a signing key revoked on one of them', async () => {
    const db = await (await serverReady).freshDatabase();
    const [first, second] = [await testKey(), await testKey()];
    const options = {
      signingKeys: [first.jwk, second.jwk],
      database: db,
      storageUrl: 'http://storage.test',
      storageSecret: 's'.repeat(43),
      authenticate: () => 'erin',
      rules: { read: { op: 'get' as const, prefix: 'users/{subject}/' } },
    };
    const [one, two] = await Promise.all([createIssuer(options), createIssuer(options)]);
    try {
      const kidOf = async (issuer: typeof one) => {
        const minted = await issuer.mint('erin', { op: 'get', key: 'users/erin/x' });
        return (await issuer.records.getGrant(minted.id))?.kid;
      };
      assert.equal(await kidOf(two), first.jwk.kid);
      await one.revokeSigningKey(first.jwk.kid as string);
      assert.equal(await kidOf(one), second.jwk.kid, 'at once where it was revoked');
      let kid: string | undefined;
      for (let i = 0; i < 100 && kid !== second.jwk.kid; i++) {
        await new Promise((r) => setTimeout(r, 100));
        kid = await kidOf(two);
      }
      assert.equal(kid, second.jwk.kid, 'and on the other issuer within its refresh');
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('runs the periodic tasks of issuers that share it on one of them', async (t) => {
    const db = await (await serverReady).freshDatabase();
    const key = await testKey();
    const store = await openStore(db);
    let sweeps = 0;
    const counted = new Proxy(store, {
      get(target, prop) {
        if (prop === 'expirePending')
          return (now: number) => {
            sweeps++;
            return target.expirePending(now);
          };
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    t.mock.timers.enable({ apis: ['setInterval'] });
    const options = {
      signingKeys: [key.jwk],
      records: counted,
      storageUrl: 'http://storage.test',
      storageSecret: 's'.repeat(43),
      authenticate: () => 'erin',
      rules: { upload: { op: 'put' as const, prefix: 'users/{subject}/' } },
    };
    const issuers = await Promise.all([createIssuer(options), createIssuer(options), createIssuer(options)]);
    try {
      for (let minute = 1; minute <= 3; minute++) {
        t.mock.timers.tick(60_000);
        // The claims go to PostgreSQL (real time): wait for this minute's sweep, then a little
        // longer for any second one (which would be the bug).
        for (let i = 0; i < 500 && sweeps < minute; i++) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(sweeps, 3, 'each minute, one of the three issuers swept');
    } finally {
      for (const issuer of issuers) await issuer.close();
    }
  });

  it('closes once, whoever closes it', async () => {
    const store = await PostgresRecordStore.open(await (await serverReady).freshDatabase());
    await Promise.all([store.close(), store.close()]);
    await store.close();
    await assert.rejects(store.usage('x', T0), 'closed: no more queries');
  });

  it('fails with the server error when PostgreSQL cannot be reached', async () => {
    await assert.rejects(
      PostgresRecordStore.open(`postgres://valet@127.0.0.1:1/none`),
      (error: Error & { code?: string }) => error.code === 'ECONNREFUSED',
    );
  });
  void server;
});
