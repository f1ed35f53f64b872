// End-to-end: readiness that tells the truth. Storage's /readyz names what keeps it from serving
// (the disk, trusted keys, the issuer refusing its signature), and says degraded, not failing,
// while the issuer is away (it serves keys within their own bounds then); the issuer's names its
// record store, its storage and its identity provider. A secret mismatch is named as such at
// storage (once in its log, in readiness) and reaches the client as `misconfigured`, not retried.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { createIssuer, type Issuer, type IssuerOptions } from '../../src/issuer/issuer.js';
import type { ReadinessBody } from '../../src/wire/readiness.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider } from '../helpers/oidc.js';
import { freePort, startStorage } from '../helpers/storage.js';
import { eventually, OWNER_RULES, serveIssuer, startSystem, userAuth } from '../helpers/system.js';

/** An issuer in memory for a storage at `storageUrl`, closed when the test ends. */
async function memoryIssuer(
  t: TestContext,
  options: Omit<IssuerOptions, 'signingKeys' | 'database'>,
): Promise<Issuer> {
  const issuer = await createIssuer({
    signingKeys: [(await testKey()).jwk],
    database: ':memory:',
    ...options,
  } as IssuerOptions);
  t.after(() => issuer.close());
  return issuer;
}

async function readyz(base: string): Promise<{ status: number; body: ReadinessBody }> {
  const response = await fetch(`${base}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadinessBody };
}

const STRICT_RULES = {
  ...OWNER_RULES,
  read: { op: 'get', prefix: 'users/{subject}/', revocation: 'strict' },
} as const;

describe('readiness', () => {
  it('says ready with every check named when all is well, and degraded while the issuer is away', async (t) => {
    const sys = await startSystem(t, { storageArgs: ['--revocation-max-staleness', '1s'] });
    await eventually(async () =>
      (await readyz(sys.storage.url)).body.status === 'ready' ? true : undefined,
    );
    const storage = await readyz(sys.storage.url);
    assert.equal(storage.status, 200);
    assert.deepEqual(Object.keys(storage.body.checks).sort(), [
      'connections',
      'disk',
      'issuer',
      'journal',
      'keys',
      'revocations',
    ]);
    const issuer = await readyz(sys.served.url);
    assert.equal(issuer.status, 200);
    assert.deepEqual(issuer.body, {
      status: 'ready',
      checks: { records: { status: 'ok' }, storage: { status: 'ok' } },
    });

    await sys.served.close();
    const away = await eventually(async () => {
      const now = await readyz(sys.storage.url);
      return now.body.degraded?.includes('revocations') && now.body.degraded.includes('issuer')
        ? now
        : undefined;
    });
    assert.equal(away.status, 200, 'still ready: keys are served within their own bounds');
    assert.equal(away.body.status, 'degraded');
    assert.match(away.body.checks.issuer?.problem ?? '', /the issuer does not answer/);
    assert.match(away.body.checks.revocations?.problem ?? '', /strict rules\) are refused/);
  });

  it('names a secret mismatch: in readiness, once in the log, and to the client as misconfigured', async (t) => {
    const key = await testKey();
    const { dir } = await keyFiles([key]);
    const secretFile = path.join(dir, 'storage.secret');
    await writeFile(secretFile, randomBytes(32).toString('base64url'), { mode: 0o600 });
    const served = await serveIssuer(t);
    const port = await freePort();
    const issuer = await createIssuer({
      signingKeys: [key.jwk],
      database: ':memory:',
      storageUrl: `http://127.0.0.1:${port}`,
      storageSecret: randomBytes(32).toString('base64url'), // not storage's
      authenticate: userAuth,
      rules: STRICT_RULES,
    });
    t.after(() => issuer.close());
    served.mount(issuer);
    const storage = await startStorage(
      { port, args: ['--issuer', served.url, '--secret-file', secretFile] },
      t,
    );
    const secrets = /the secret in storage's --secret-file and the issuer's storageSecret differ/;
    const unready = await eventually(async () => {
      const now = await readyz(storage.url);
      return now.status === 503 ? now : undefined;
    });
    assert.deepEqual(unready.body.failing, ['issuer']);
    assert.match(unready.body.checks.issuer?.problem ?? '', secrets);
    const fromIssuer = await readyz(served.url);
    assert.equal(fromIssuer.status, 503);
    assert.deepEqual(fromIssuer.body.failing, ['storage']);
    assert.match(fromIssuer.body.checks.storage?.problem ?? '', secrets);

    const minted = await issuer.mint('alice', { op: 'get', key: 'users/alice/x.txt' });
    const refused = await fetch(minted.url);
    assert.equal(refused.status, 500);
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'misconfigured');
    assert.match(error.message, secrets);
    const client = createClient({ issuer: served.url, getToken: () => 'user:alice', retryDelay: 2_000 });
    const started = Date.now();
    const failure = await client.download('users/alice/x.txt').catch((e: Error & { code?: string }) => e);
    assert.equal((failure as { code?: string }).code, 'misconfigured');
    assert.match((failure as Error).message, secrets);
    assert.ok(Date.now() - started < 1_500, 'not retried: retrying cannot fix it');
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // a poll a second, all refused
    assert.equal(
      storage
        .logs()
        .split('\n')
        .filter((line) => /"level":40/.test(line) && /storageSecret differ/.test(line)).length,
      1,
      'one warning, not one a poll',
    );
  });

  it('fails the disk check when the data directory is under its floor or takes no writes', async (t) => {
    const key = await testKey();
    const floor = await startStorage(
      { jwksFile: (await keyFiles([key])).jwksFile, args: ['--min-free-space', '1000TiB'] },
      t,
    );
    const low = await readyz(floor.url);
    assert.equal(low.status, 503);
    assert.deepEqual(low.body.failing, ['disk']);
    assert.match(
      low.body.checks.disk?.problem ?? '',
      /free on the data directory's disk, under the 1000 TiB floor/,
    );

    const plain = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile }, t);
    // Probes run side by side (a balancer's checks, Prometheus, an operator): each its own file.
    const many = await Promise.all(Array.from({ length: 20 }, () => readyz(plain.url)));
    assert.deepEqual(
      many.map((r) => r.body.checks.disk?.status),
      Array(20).fill('ok'),
    );
    const tmp = path.join(plain.dataDir, 'tmp');
    t.after(() => void spawnSync('chattr', ['-i', tmp]));
    assert.equal(spawnSync('chattr', ['+i', tmp]).status, 0, 'chattr +i (root on ext4)');
    const stuck = await readyz(plain.url);
    spawnSync('chattr', ['-i', tmp]);
    assert.equal(stuck.status, 503);
    assert.deepEqual(stuck.body.failing, ['disk']);
    assert.match(stuck.body.checks.disk?.problem ?? '', /does not take writes: .*EPERM/);
  });

  it("fails the issuer's checks for storage and for its identity provider when they are away", async (t) => {
    const sys = await startSystem(t);
    assert.equal((await readyz(sys.served.url)).status, 200);
    await sys.storage.stop();
    const noStorage = await readyz(sys.served.url);
    assert.equal(noStorage.status, 503);
    assert.deepEqual(noStorage.body.failing, ['storage']);
    assert.match(
      noStorage.body.checks.storage?.problem ?? '',
      /Valet storage at http:\/\/127\.0\.0\.1:\d+ does not answer/,
    );

    const provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
    let offset = 0;
    const oidcOptions = {
      storageUrl: sys.storage.url,
      storageSecret: sys.secret,
      oidc: { issuer: provider.issuer, audience: 'urn:valet', algorithms: ['ES256'] },
      rules: OWNER_RULES,
    };
    const oidc = await memoryIssuer(t, { ...oidcOptions, now: () => Date.now() + offset });
    const request = () => oidc.fetch(new Request('http://issuer.test/readyz'));
    const up = (await (await request()).json()) as ReadinessBody;
    assert.equal(up.checks.identity?.status, 'ok');
    await provider.stop();
    // Its keys fetched before still verify tokens: degraded; an issuer that never had them: failing.
    const fresh = await memoryIssuer(t, oidcOptions);
    const never = (await (
      await fresh.fetch(new Request('http://issuer.test/readyz'))
    ).json()) as ReadinessBody;
    assert.equal(never.checks.identity?.status, 'failing');
    assert.match(
      never.checks.identity?.problem ?? '',
      /the identity provider .* cannot be reached .*: bearer tokens are refused/,
    );
    offset = 10_100; // the provider is looked at again at most every 10 s
    const down = (await (await request()).json()) as ReadinessBody;
    assert.equal(down.checks.identity?.status, 'degraded');
    assert.match(down.checks.identity?.problem ?? '', /verified with the keys fetched before/);
  });

  it('keeps the issuer in a balancer while storage waits for its keys (no deadlock)', async (t) => {
    // What a balancer with no replica up answers (HAProxy: 503): storage has no keys yet.
    const balancer = http.createServer((_req, res) => res.writeHead(503).end('no server is available'));
    await new Promise<void>((resolve) => balancer.listen(0, '127.0.0.1', resolve));
    t.after(() => balancer.close());
    const { dir } = await keyFiles([await testKey()]);
    const secret = randomBytes(32).toString('base64url');
    await writeFile(path.join(dir, 'storage.secret'), secret, { mode: 0o600 });
    const storage = await startStorage(
      {
        args: [
          '--issuer',
          `http://127.0.0.1:${(balancer.address() as AddressInfo).port}`,
          '--secret-file',
          path.join(dir, 'storage.secret'),
        ],
      },
      t,
    );
    const waiting = await eventually(async () => {
      const now = await readyz(storage.url);
      return now.body.degraded?.includes('issuer') ? now : undefined;
    });
    assert.equal(waiting.status, 503);
    assert.deepEqual(waiting.body.failing, ['keys'], 'a 503 from the issuer is no refusal');
    assert.match(
      waiting.body.checks.issuer?.problem ?? '',
      /does not answer or is unavailable \(answered 503/,
    );

    const issuer = await memoryIssuer(t, {
      storageUrl: storage.url,
      storageSecret: secret,
      authenticate: userAuth,
      rules: OWNER_RULES,
    });
    const response = await issuer.fetch(new Request('http://issuer.test/readyz'));
    const body = (await response.json()) as ReadinessBody;
    assert.equal(response.status, 200, 'ready: the balancer may send storage its keys');
    assert.equal(body.status, 'degraded');
    assert.equal(body.checks.storage?.status, 'degraded');
    assert.match(
      body.checks.storage?.problem ?? '',
      /Valet storage is not ready \(keys: storage has no trusted keys/,
    );
  });
});
