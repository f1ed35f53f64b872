// End-to-end: storage learns revocations from the issuer's feed and reports changes by webhook.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createIssuer } from '../../src/issuer/issuer.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { freePort, startStorage, startValet } from '../helpers/storage.js';
import {
  eventually,
  OWNER_RULES,
  serveIssuer,
  startSystem,
  storageReady,
  userAuth,
} from '../helpers/system.js';

/** The claims of the valet key in a storage URL. */
function keyClaims(url: string): { rev?: number; exp: number; iat: number } {
  const token = new URL(url).searchParams.get('vk') ?? '';
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

async function codeOf(response: Response): Promise<string | undefined> {
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
  return body.error?.code;
}

async function waitFor(url: string, wanted: number): Promise<number> {
  const started = Date.now();
  await eventually(async () => {
    const response = await fetch(url);
    await response.body?.cancel();
    return response.status === wanted ? true : undefined;
  }, 10_000);
  return Date.now() - started;
}

describe('revocation at storage', () => {
  it('refuses a revoked key with token_revoked within the documented delay', async (t) => {
    const sys = await startSystem(t);
    const alice = sys.client('alice');
    const { key } = await alice.upload(new Blob(['x']), { name: 'r.txt' });
    const minted = await sys.issuer.mint('alice', { op: 'get', key });
    await waitFor(minted.url, 200);
    await sys.issuer.revokeKey(minted.id);
    const delay = await waitFor(minted.url, 403);
    assert.ok(delay <= 5_000, `took ${delay} ms`);
    assert.equal(await codeOf(await fetch(minted.url)), 'token_revoked');
    const other = await sys.issuer.mint('alice', { op: 'get', key });
    assert.equal((await fetch(other.url)).status, 200, 'other keys are not affected');
  });

  it('revokes every key of a subject issued before a time, and none issued after', async (t) => {
    const sys = await startSystem(t);
    const { key } = await sys.client('alice').upload(new Blob(['x']), { name: 's.txt' });
    const before = await sys.issuer.mint('alice', { op: 'get', key });
    await sys.issuer.revokeSubject('alice');
    await waitFor(before.url, 403);
    assert.equal(await codeOf(await fetch(before.url)), 'token_revoked');
    // Key times are in whole seconds: a key issued in a later second is not covered.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const after = await sys.issuer.mint('alice', { op: 'get', key });
    assert.equal((await fetch(after.url)).status, 200);
  });

  it('revokes a signing key: its keys are refused and the issuer signs with the next one', async (t) => {
    const first = await testKey();
    const second = await testKey();
    const { jwksFile } = await keyFiles([first, second]);
    const { secret, secretFile } = await sharedSecret(jwksFile);
    const served = await serveIssuer(t);
    const storage = await startStorage(
      { jwksFile, args: ['--issuer', served.url, '--secret-file', secretFile] },
      t,
    );
    const issuer = await createIssuer({
      signingKeys: [first.jwk, second.jwk],
      database: ':memory:',
      storageUrl: storage.url,
      storageSecret: secret,
      authenticate: userAuth,
      rules: OWNER_RULES,
    });
    t.after(() => issuer.close());
    served.mount(issuer);
    await storageReady(issuer);
    const put = await issuer.mint('alice', { op: 'put', name: 'k.txt', size: 1 });
    assert.equal((await fetch(put.url, { method: 'PUT', body: 'k' })).status, 201);
    const old = await issuer.mint('alice', { op: 'get', key: 'users/alice/k.txt' });
    assert.equal((await fetch(old.url)).status, 200);

    await issuer.revokeSigningKey(first.jwk.kid);
    await waitFor(old.url, 403);
    assert.equal(await codeOf(await fetch(old.url)), 'token_revoked');
    assert.deepEqual(
      issuer.jwks().keys.map((k) => k.kid),
      [second.jwk.kid],
    );
    const fresh = await issuer.mint('alice', { op: 'get', key: 'users/alice/k.txt' });
    const header = JSON.parse(
      Buffer.from(
        (new URL(fresh.url).searchParams.get('vk') ?? '').split('.')[0] ?? '',
        'base64url',
      ).toString(),
    );
    assert.equal(header.kid, second.jwk.kid);
    assert.equal((await fetch(fresh.url)).status, 200);
  });

  it('fails closed for a strict rule: with no fresh revocation list its keys get 503, until the feed is back', async (t) => {
    const sys = await startSystem(t, {
      storageArgs: ['--revocation-max-staleness', '1s'],
      issuer: {
        rules: { ...OWNER_RULES, read: { op: 'get', prefix: 'users/{subject}/', revocation: 'strict' } },
      },
    });
    const { key } = await sys.client('alice').upload(new Blob(['x']), { name: 'f.txt' });
    const minted = await sys.issuer.mint('alice', { op: 'get', key });
    assert.equal(keyClaims(minted.url).rev, undefined, 'a strict key carries no bound of its own');
    const port = (sys.served.server.address() as AddressInfo).port;
    await sys.served.close();
    await waitFor(minted.url, 503);
    assert.equal(await codeOf(await fetch(minted.url)), 'unavailable');
    const back = await serveIssuer(t, port);
    back.mount(sys.issuer);
    await waitFor(minted.url, 200);
  });
});

describe('keys that outlive the issuer', () => {
  it('serve through an issuer outage as far as each rule allows, and never a revoked key, across a storage restart', async (t) => {
    const rules = {
      ...OWNER_RULES,
      // A 10-minute default, a 2-second bound for long keys, and today's strict behaviour.
      read: { op: 'get', prefix: 'users/{subject}/' },
      long: { op: 'get', prefix: 'users/{subject}/', ttl: 3600, revocation: 2 },
      strict: { op: 'get', prefix: 'users/{subject}/', revocation: 'strict' },
    } as const;
    const sys = await startSystem(t, {
      storageArgs: ['--revocation-max-staleness', '1s', '--max-ttl', '2h'],
      issuer: { rules, maxTtl: 3600 },
    });
    const { key } = await sys.client('alice').upload(new Blob(['outage']), { name: 'o.txt' });
    const ordinary = await sys.issuer.mint('alice', { op: 'get', key, rule: 'read' });
    const long = await sys.issuer.mint('alice', { op: 'get', key, rule: 'long' });
    const strict = await sys.issuer.mint('alice', { op: 'get', key, rule: 'strict' });
    const revoked = await sys.issuer.mint('alice', { op: 'get', key, rule: 'read' });
    assert.equal(keyClaims(ordinary.url).rev, 600, 'the default bound is signed into the key');
    assert.equal(keyClaims(long.url).rev, 2);
    await sys.issuer.revokeKey(revoked.id);
    await waitFor(revoked.url, 403);
    for (const minted of [ordinary, long, strict]) await waitFor(minted.url, 200);

    // The app goes away (its server stops answering).
    await sys.served.close();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal(
      (await fetch(ordinary.url)).status,
      200,
      'a key no longer than its bound needs no fresh list',
    );
    assert.equal(await codeOf(await fetch(long.url)), 'unavailable', 'a long key, past its 2 s bound');
    assert.equal(await codeOf(await fetch(strict.url)), 'unavailable', "a strict key, past storage's 1 s");
    assert.equal(await codeOf(await fetch(revoked.url)), 'token_revoked');

    // Storage restarts while the issuer is still away: it kept the list.
    const dataDir = sys.storage.dataDir;
    const args = sys.storage.proc.spawnargs.slice(sys.storage.proc.spawnargs.indexOf('storage'));
    assert.equal(await sys.storage.stop(), 0);
    const again = await startValet(
      args.map((a, i) => (args[i - 1] === '--port' ? String(new URL(sys.storage.url).port) : a)),
      /listening on (http:\/\/\S+)/,
      t,
    );
    assert.equal(new URL(again.url).port, new URL(sys.storage.url).port);
    assert.equal(await codeOf(await fetch(revoked.url)), 'token_revoked', 'what was revoked stays refused');
    assert.equal((await fetch(ordinary.url)).status, 200, 'what is valid is honoured');
    assert.equal(await codeOf(await fetch(strict.url)), 'unavailable');
    assert.ok(dataDir);
  });
});

describe('storage run with one line: data, issuer, secret', () => {
  it('trusts the keys the issuer publishes, follows a new one, and keeps them for a restart while it is away', async (t) => {
    const first = await testKey();
    const secret = 's'.repeat(43);
    const { dir } = await keyFiles([first]);
    const secretFile = path.join(dir, 'storage.secret');
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
    const port = await freePort();
    const make = async (key: TestKey) =>
      createIssuer({
        signingKeys: [key.jwk],
        database: ':memory:',
        storageUrl: `http://127.0.0.1:${port}`,
        storageSecret: secret,
        authenticate: userAuth,
        rules: OWNER_RULES,
      });
    let issuer = await make(first);
    const served = await serveIssuer(t);
    served.mount(issuer);
    const args = ['--issuer', served.url, '--secret-file', secretFile];
    let storage = await startStorage({ port, args }, t);
    const put = await issuer.mint('alice', { op: 'put', name: 'one.txt', size: 3 });
    assert.equal(
      (await fetch(put.url, { method: 'PUT', body: 'one' })).status,
      201,
      'no --jwks: the issuer’s keys',
    );

    // The app is redeployed with a new signing key: storage fetches the set again for it.
    await issuer.close();
    issuer = await make(await testKey());
    served.mount(issuer);
    const next = await issuer.mint('alice', { op: 'put', name: 'two.txt', size: 3 });
    await waitFor(next.url.replace('two.txt', 'none.txt'), 403); // a key for another object: scope, once trusted
    assert.equal((await fetch(next.url, { method: 'PUT', body: 'two' })).status, 201);

    // Storage restarts while the app is away: it starts from the keys it kept.
    await served.close();
    assert.equal(await storage.stop(), 0);
    storage = await startStorage({ port, dataDir: storage.dataDir, args }, t);
    const get = await issuer.mint('alice', { op: 'get', key: 'users/alice/two.txt' });
    assert.equal(await (await fetch(get.url)).text(), 'two');
    assert.match(storage.logs(), /using the copy kept on disk/);
    await issuer.close();
  });
});

describe('completion webhook', () => {
  it('is retried while the issuer is down, and recorded once', async (t) => {
    const sys = await startSystem(t, {
      storageArgs: ['--revocation-max-staleness', '60s', '--log-level', 'debug'],
    });
    const key = 'users/alice/while-down.txt';
    const port = (sys.served.server.address() as AddressInfo).port;
    await sys.served.close();

    const put = await sys.issuer.mint('alice', { op: 'put', name: 'while-down.txt', size: 4 });
    assert.equal((await fetch(put.url, { method: 'PUT', body: 'down' })).status, 201);
    // Retried (at debug level), with one warning for the outage.
    await eventually(async () => {
      const retries =
        sys.storage.logs().match(/delivering storage events to the issuer .*still failing/g)?.length ?? 0;
      return retries >= 2 ? true : undefined;
    });
    assert.equal(
      sys.storage.logs().match(/delivering storage events to the issuer .*failed: unreachable/g)?.length,
      1,
    );
    assert.equal((await sys.issuer.records.listEvents(key)).length, 0);

    const back = await serveIssuer(t, port);
    back.mount(sys.issuer);
    const object = await eventually(async () => {
      const record = await sys.issuer.records.getObject(key);
      return record?.state === 'complete' ? record : undefined;
    });
    assert.equal(object.size, 4);
    assert.equal(object.owner, 'alice');
    // Let any redelivery arrive, then check the event was recorded exactly once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const events = await sys.issuer.records.listEvents(key);
    assert.deepEqual(
      events.map((e) => [e.type, e.keyId]),
      [['object.created', put.id]],
    );
    assert.equal((await sys.issuer.records.getGrant(put.id))?.completedAt !== null, true);
  });
});

async function sharedSecret(jwksFile: string): Promise<{ secret: string; secretFile: string }> {
  const { randomBytes } = await import('node:crypto');
  const { writeFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const secret = randomBytes(32).toString('base64url');
  const secretFile = path.join(path.dirname(jwksFile), 'storage.secret');
  await writeFile(secretFile, secret, { mode: 0o600 });
  return { secret, secretFile };
}
