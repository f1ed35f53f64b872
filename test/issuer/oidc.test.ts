// The issuer's OIDC bearer check against a real OpenID provider (oidc-provider), over HTTP.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import * as jose from 'jose';
import { oidcHeaderCheck } from '../../src/issuer/auth/oidc.js';
import { VerifiedBearers } from '../../src/issuer/auth/verified-bearers.js';
import { createIssuer, type Issuer } from '../../src/issuer/issuer.js';
import { testKey } from '../helpers/keys.js';
import { startProvider, type TestProvider } from '../helpers/oidc.js';
import { OWNER_RULES } from '../helpers/system.js';

const AUDIENCE = 'urn:valet:files';

async function setup(t: import('node:test').TestContext, now?: () => number) {
  const provider = await startProvider(t, { clients: ['alice', 'bob'], audiences: [AUDIENCE, 'urn:other'] });
  const key = await testKey();
  const issuer = await createIssuer({
    signingKeys: [key.jwk],
    database: ':memory:',
    storageUrl: 'http://127.0.0.1:9',
    storageSecret: 'a'.repeat(43),
    oidc: { issuer: provider.issuer, audience: AUDIENCE, algorithms: ['ES256', 'RS256'] },
    rules: OWNER_RULES,
    ...(now && { now }),
  });
  t.after(() => issuer.close());
  return { provider, issuer };
}

function mintRequest(issuer: Issuer, token: string): Promise<Response> {
  return issuer.fetch(
    new Request('http://issuer.test/v1/keys', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ op: 'put', name: 'a.txt', size: 1 }),
    }),
  );
}

async function expectUnauthenticated(issuer: Issuer, token: string): Promise<void> {
  const response = await mintRequest(issuer, token);
  assert.equal(response.status, 401);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'unauthenticated');
}

function forge(
  provider: TestProvider,
  claims: jose.JWTPayload,
  header: Partial<jose.JWTHeaderParameters> = {},
) {
  return new jose.SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: provider.kid, typ: 'at+jwt', ...header })
    .sign(provider.privateKey);
}

describe('OIDC bearer tokens', () => {
  it("accepts the provider's access token and uses its subject", async (t) => {
    const { provider, issuer } = await setup(t);
    const response = await mintRequest(issuer, await provider.token('alice'));
    assert.equal(response.status, 201);
    assert.equal(((await response.json()) as { object: string }).object, 'users/alice/a.txt');
    const bob = await mintRequest(issuer, await provider.token('bob'));
    assert.equal(((await bob.json()) as { object: string }).object, 'users/bob/a.txt');
  });

  it('refuses a token for another audience', async (t) => {
    const { provider, issuer } = await setup(t);
    await expectUnauthenticated(issuer, await provider.token('alice', 'urn:other'));
  });

  it('refuses a token from another issuer, even signed with the same key', async (t) => {
    const { provider, issuer } = await setup(t);
    const now = Math.floor(Date.now() / 1000);
    const good = await forge(provider, { iss: provider.issuer, aud: AUDIENCE, iat: now, exp: now + 300 });
    assert.equal(
      (await mintRequest(issuer, good)).status,
      201,
      'the forged control token is otherwise valid',
    );
    await expectUnauthenticated(
      issuer,
      await forge(provider, { iss: 'http://127.0.0.1:1/evil', aud: AUDIENCE, iat: now, exp: now + 300 }),
    );
  });

  it('refuses an expired token, and one without exp', async (t) => {
    let offset = 0;
    const { provider, issuer } = await setup(t, () => Date.now() + offset);
    const token = await provider.token('alice');
    // Accepted first, so the issuer remembers it as verified: expiry still applies to it.
    assert.equal((await mintRequest(issuer, token)).status, 201);
    offset = 601_000 + 30_000; // past exp (600 s) and the 30 s tolerance
    await expectUnauthenticated(issuer, token);
    offset = 0;
    await expectUnauthenticated(issuer, await forge(provider, { iss: provider.issuer, aud: AUDIENCE }));
  });

  it('refuses a token issued in the future (iat), beyond the 30 s tolerance', async (t) => {
    const { provider, issuer } = await setup(t);
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: provider.issuer, aud: AUDIENCE, exp: now + 3600 };
    assert.equal(
      (await mintRequest(issuer, await forge(provider, { ...claims, iat: now + 25 }))).status,
      201,
    );
    for (const ahead of [40, 3600, 365 * 86400]) {
      const response = await mintRequest(issuer, await forge(provider, { ...claims, iat: now + ahead }));
      assert.equal(response.status, 401, `iat ${ahead} s ahead`);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'unauthenticated');
      assert.match(error.message, /issued in the future/);
    }
    await expectUnauthenticated(issuer, await forge(provider, { ...claims, iat: 'yesterday' as never }));
  });

  it('checks a bearer it verified within the minute by its text and clock only', async (t) => {
    const provider = await startProvider(t, { clients: ['alice'], audiences: [AUDIENCE] });
    const verified = new VerifiedBearers();
    let now = Date.now();
    const check = oidcHeaderCheck({ issuer: provider.issuer, audience: AUDIENCE }, () => now, verified);
    const token = await provider.token('alice');
    assert.equal((await check(`Bearer ${token}`))?.subject, 'alice');
    assert.equal(verified.hits, 0);
    const again = await check(`Bearer ${token}`);
    assert.equal(again?.subject, 'alice');
    assert.equal(verified.hits, 1);
    // Another token of the same user is checked in full.
    await check(`Bearer ${await provider.token('alice')}`);
    assert.equal(verified.hits, 1);
    // After a minute the memory is not used: the full check runs again (and passes).
    now += 61_000;
    assert.equal((await check(`Bearer ${token}`))?.subject, 'alice');
    assert.equal(verified.hits, 1);
    // A tampered copy is never a hit.
    // (A character inside the signature carries six bits of it: changing one always changes the
    // signature; the last characters may carry padding bits only.)
    const at = token.length - 10;
    const tampered = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
    assert.notEqual(tampered, token);
    await assert.rejects(check(`Bearer ${tampered}`), /not valid/);
  });

  it('refuses alg none, HMAC tokens and pinned-out algorithms', async (t) => {
    const { provider, issuer } = await setup(t);
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'alice', iss: provider.issuer, aud: AUDIENCE, iat: now, exp: now + 300 };
    const none = new jose.UnsecuredJWT(claims).encode();
    await expectUnauthenticated(issuer, none);
    const hmac = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: provider.kid })
      .sign(new TextEncoder().encode('a-client-secret-that-is-long-enough-for-hs256'));
    await expectUnauthenticated(issuer, hmac);
    // A token whose signature was altered.
    const good = await forge(provider, claims);
    await expectUnauthenticated(issuer, `${good.slice(0, -4)}AAAA`);
  });

  it('refuses a request with no bearer, or a malformed Authorization header', async (t) => {
    const { issuer } = await setup(t);
    for (const authorization of [undefined, 'Basic abc', 'Bearer', 'Bearer a b']) {
      const response = await issuer.fetch(
        new Request('http://issuer.test/v1/objects', { headers: authorization ? { authorization } : {} }),
      );
      assert.equal(response.status, 401, String(authorization));
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  });
});

describe('OIDC discovery that fails', () => {
  it('says what differs when the provider names another issuer (a trailing slash)', async (t) => {
    const provider = await startProvider(t, { clients: ['alice'], audiences: [AUDIENCE] });
    const issuer = await createIssuer({
      signingKeys: [(await testKey()).jwk],
      database: ':memory:',
      storageUrl: 'http://127.0.0.1:9',
      storageSecret: 'a'.repeat(43),
      oidc: { issuer: `${provider.issuer}/`, audience: AUDIENCE, algorithms: ['ES256'] },
      rules: OWNER_RULES,
    });
    t.after(() => issuer.close());
    const response = await mintRequest(issuer, await provider.token('alice', AUDIENCE));
    assert.equal(response.status, 500, 'a configuration mistake: no use retrying');
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'misconfigured');
    assert.equal(
      error.message,
      `the identity provider's discovery document (${provider.issuer}/.well-known/openid-configuration) ` +
        `names the issuer "${provider.issuer}", not "${provider.issuer}/": set the issuer option to exactly ` +
        'what the provider names (a trailing slash included)',
    );
  });

  it('asks a provider that is down again only after a growing wait, not on every request', async (t) => {
    let asked = 0;
    const down = http.createServer((_req, res) => {
      asked++;
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    t.after(() => down.close());
    const url = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
    let now = Date.now();
    const issuer = await createIssuer({
      signingKeys: [(await testKey()).jwk],
      database: ':memory:',
      storageUrl: 'http://127.0.0.1:9',
      storageSecret: 'a'.repeat(43),
      oidc: { issuer: url, audience: AUDIENCE },
      rules: OWNER_RULES,
      now: () => now,
    });
    t.after(() => issuer.close());
    for (let i = 0; i < 20; i++) {
      const response = await mintRequest(issuer, 'a.b.c');
      assert.equal(response.status, 503);
      assert.match(
        ((await response.json()) as { error: { message: string } }).error.message,
        new RegExp(`^the identity provider ${url} cannot be reached \\(OIDC discovery answered 503\\)$`),
      );
    }
    assert.equal(asked, 1, 'one try for twenty requests');
    now += 1_100; // past the first wait (1 s)
    await mintRequest(issuer, 'a.b.c');
    assert.equal(asked, 2);
    now += 1_100; // the next wait is 2 s: not yet
    await mintRequest(issuer, 'a.b.c');
    assert.equal(asked, 2);
    now += 1_000;
    await mintRequest(issuer, 'a.b.c');
    assert.equal(asked, 3);
  });
});
