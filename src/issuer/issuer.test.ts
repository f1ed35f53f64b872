import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { testKey } from '../../test/helpers/keys.js';
import { MemoryDriver } from '../drivers/memory.js';
import { isValetError } from '../token/errors.js';
import { signRequest } from '../token/signature.js';
import { createIssuer, type IssuerOptions } from './issuer.js';
import type { AnyIssuerOptions } from './options.js';
import { SqliteRecordStore } from './records/sqlite-records.js';
import type { Rule } from './rules.js';

const SECRET = 's'.repeat(43);
const BASE = 'http://issuer.test';

async function make(overrides: Partial<AnyIssuerOptions> = {}, rules: Record<string, Rule> = {}) {
  const key = await testKey();
  const issuer = await createIssuer({
    signingKeys: [key.jwk],
    database: ':memory:',
    storageUrl: 'http://storage.test',
    storageSecret: SECRET,
    authenticate: (request) =>
      /^Bearer user:(\w+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null,
    rules: {
      upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 1000, contentTypes: ['image/*'] },
      read: { op: 'get', prefix: 'users/{subject}/' },
      share: { op: 'share', prefix: 'users/{subject}/', ttl: 3600 },
      ...rules,
    },
    ...overrides,
  } as IssuerOptions);
  return { issuer, key };
}

function call(
  path: string,
  init: { method?: string; user?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.user) headers.authorization = `Bearer user:${init.user}`;
  if (init.body !== undefined) headers['content-type'] ??= 'application/json';
  return new Request(`${BASE}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(init.body !== undefined && {
      body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    }),
  });
}

async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

async function signedEvent(event: Record<string, unknown>, now = Date.now()) {
  const body = JSON.stringify(event);
  const signature = await signRequest(SECRET, { method: 'POST', path: '/v1/events', body }, now);
  return new Request(`${BASE}/v1/events`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'valet-signature': signature },
  });
}

function createdEvent(id: string, object: string, keyId: string, size = 10) {
  return {
    id,
    type: 'object.created',
    time: new Date().toISOString(),
    object,
    key_id: keyId,
    subject: 'alice',
    size,
    content_type: 'image/png',
    sha256: 'a'.repeat(64),
    etag: `"${'a'.repeat(64)}"`,
  };
}

describe('issuer handler', () => {
  it('serves health, the JWK set, and stable errors for unknown routes and methods', async () => {
    const { issuer, key } = await make();
    assert.equal((await issuer.fetch(call('/healthz'))).status, 200);
    const jwks = (await (await issuer.fetch(call('/.well-known/jwks.json'))).json()) as {
      keys: Array<{ kid: string; d?: string }>;
    };
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [key.jwk.kid],
    );
    assert.equal(jwks.keys[0]?.d, undefined, 'no private key material');
    assert.equal(await errorCode(await issuer.fetch(call('/nope'))), 'not_found');
    assert.equal(
      await errorCode(await issuer.fetch(call('/v1/keys', { method: 'GET', user: 'alice' }))),
      'method_not_allowed',
    );
  });

  it('says it is alive at /healthz, and not ready at /readyz when the record store does not answer', async () => {
    const records = SqliteRecordStore.open(':memory:');
    const issuer = await createIssuer({
      signingKeys: [(await testKey()).jwk],
      records,
      driver: new MemoryDriver(),
      storageSecret: SECRET,
      authenticate: () => 'alice',
      rules: { read: { op: 'get', accept: ['revocation'] } },
    });
    const ready = await issuer.fetch(call('/readyz'));
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), {
      status: 'ready',
      checks: { records: { status: 'ok' }, storage: { status: 'ok' } },
    });
    await records.close();
    assert.equal((await issuer.fetch(call('/healthz'))).status, 200, 'alive');
    const down = await issuer.fetch(call('/readyz'));
    assert.equal(down.status, 503);
    assert.deepEqual(await down.json(), {
      status: 'unready',
      failing: ['records'],
      checks: {
        records: {
          status: 'failing',
          problem: 'the record store does not answer: keys cannot be minted or recorded',
        },
        storage: { status: 'ok' },
      },
    });
  });

  it('works detached, as a route handler export or a framework mount takes it', async () => {
    const { issuer } = await make();
    const { fetch } = issuer;
    assert.equal((await fetch(call('/healthz'))).status, 200);
    const POST = issuer.fetch;
    const minted = await POST(
      call('/v1/keys', { user: 'alice', body: { op: 'put', name: 'a.png', size: 1 } }),
    );
    assert.equal(minted.status, 201);
    const mount = (handler: (request: Request) => Promise<Response>) => handler;
    assert.equal((await mount(issuer.fetch)(call('/.well-known/jwks.json'))).status, 200);
  });

  it('lives under its base path, and checks storage signatures over the full path', async () => {
    const { issuer } = await make({ basePath: '/api/valet' });
    assert.equal((await issuer.fetch(call('/api/valet/healthz'))).status, 200);
    assert.equal((await issuer.fetch(call('/healthz'))).status, 200, 'the prefix stripped by the framework');
    assert.equal(await errorCode(await issuer.fetch(call('/api/other/healthz'))), 'not_found');
    const feed = async (target: string, signedPath: string) => {
      const signature = await signRequest(SECRET, { method: 'GET', path: signedPath, body: '' });
      return issuer.fetch(call(target, { headers: { 'valet-signature': signature } }));
    };
    assert.equal((await feed('/api/valet/v1/revocations', '/api/valet/v1/revocations')).status, 200);
    assert.equal((await feed('/v1/revocations', '/api/valet/v1/revocations')).status, 200);
    assert.equal(
      await errorCode(await feed('/api/valet/v1/revocations', '/v1/revocations')),
      'signature_invalid',
    );
    for (const basePath of ['api', '/api/', '/v1', '/s/x', '/a b']) {
      await assert.rejects(make({ basePath }), (e) => isValetError(e, 'invalid_options'), basePath);
    }
  });

  it('mints only what a rule allows, with the rule limits in the key', async () => {
    const { issuer } = await make(
      { maxTtl: 120 },
      {
        upload: {
          op: 'put',
          prefix: 'users/{subject}/',
          maxSize: 1000,
          contentTypes: ['image/*'],
          ttl: 900,
          createOnly: true,
        },
      },
    );
    const ok = await issuer.fetch(
      call('/v1/keys', {
        user: 'alice',
        body: { op: 'put', name: 'p.png', size: 10, content_type: 'image/png' },
      }),
    );
    assert.equal(ok.status, 201);
    const minted = (await ok.json()) as {
      object: string;
      constraints: Record<string, unknown>;
      expires_at: string;
      headers: Record<string, string>;
    };
    assert.equal(minted.object, 'users/alice/p.png');
    assert.deepEqual(minted.constraints, {
      size: 10,
      content_types: ['image/png'],
      no_overwrite: true,
      once: true,
      rev: 600,
    });
    assert.deepEqual(minted.headers, { 'content-type': 'image/png' });
    const ttl = (Date.parse(minted.expires_at) - Date.now()) / 1000;
    assert.ok(ttl <= 121 && ttl > 100, `ttl capped by maxTtl, got ${ttl}`);

    const refusals: Array<[unknown, string]> = [
      [{ op: 'put', name: 'big.png', size: 1001, content_type: 'image/png' }, 'entity_too_large'],
      [{ op: 'put', name: 'a.html', size: 1, content_type: 'text/html' }, 'unsupported_media_type'],
      [{ op: 'put', name: 'a.png', size: 1, content_type: 'not a type' }, 'bad_request'],
      [{ op: 'delete', key: 'users/alice/p.png' }, 'forbidden'],
      [{ op: 'get', key: 'users/bob/p.png' }, 'forbidden'],
      [{ op: 'get' }, 'bad_request'],
      [{ op: 'put', name: 'a.png', extra: true }, 'bad_request'],
      [{ op: 'put', rule: 'read', name: 'a.png' }, 'forbidden'],
    ];
    for (const [body, code] of refusals) {
      assert.equal(
        await errorCode(await issuer.fetch(call('/v1/keys', { user: 'alice', body }))),
        code,
        JSON.stringify(body),
      );
    }
    // Without a declared size the key carries the rule's ceiling.
    const open = (await (
      await issuer.fetch(call('/v1/keys', { user: 'alice', body: { op: 'put', name: 'x.png' } }))
    ).json()) as {
      constraints: Record<string, unknown>;
    };
    assert.equal(open.constraints.max_size, 1000);
    assert.deepEqual(open.constraints.content_types, ['image/*']);
  });

  it('speaks snake_case on the wire, in requests as in answers', async () => {
    const { issuer } = await make();
    const camel = await issuer.fetch(
      call('/v1/keys', {
        user: 'alice',
        body: { op: 'put', name: 'p.png', size: 1, contentType: 'image/png' },
      }),
    );
    assert.equal(await errorCode(camel), 'bad_request');
    const minted = (await (
      await issuer.fetch(
        call('/v1/keys', {
          user: 'alice',
          body: { op: 'put', name: 'p.png', size: 1, content_type: 'image/png' },
        }),
      )
    ).json()) as Record<string, unknown>;
    const keys = (value: unknown): string[] =>
      value && typeof value === 'object' && !Array.isArray(value)
        ? Object.entries(value).flatMap(([k, v]) => (k === 'headers' ? [k] : [k, ...keys(v)]))
        : [];
    for (const name of keys(minted)) assert.match(name, /^[a-z0-9_]+$/, name);
  });

  it('requires a SHA-256 when the rule says so, and binds it into the key', async () => {
    const { issuer } = await make({}, { upload: { op: 'put', prefix: 'u/{subject}/', requireSha256: true } });
    assert.equal(
      await errorCode(await issuer.fetch(call('/v1/keys', { user: 'a', body: { op: 'put', name: 'f' } }))),
      'bad_request',
    );
    const digest = 'AB'.repeat(32);
    const minted = (await (
      await issuer.fetch(call('/v1/keys', { user: 'a', body: { op: 'put', name: 'f', sha256: digest } }))
    ).json()) as {
      constraints: { sha256: string };
    };
    assert.equal(minted.constraints.sha256, digest.toLowerCase());
  });

  it('refuses bodies that are not JSON, too large, or anonymous callers', async () => {
    const { issuer } = await make();
    assert.equal(
      await errorCode(
        await issuer.fetch(
          call('/v1/keys', { user: 'alice', body: '{', headers: { 'content-type': 'application/json' } }),
        ),
      ),
      'bad_request',
    );
    assert.equal(
      await errorCode(
        await issuer.fetch(
          call('/v1/keys', { user: 'alice', body: 'x', headers: { 'content-type': 'text/plain' } }),
        ),
      ),
      'unsupported_media_type',
    );
    assert.equal(
      await errorCode(
        await issuer.fetch(
          call('/v1/keys', { user: 'alice', body: { op: 'put', name: 'x'.repeat(70_000) } }),
        ),
      ),
      'entity_too_large',
    );
    const unsigned = await issuer.fetch(call('/v1/keys', { body: { op: 'put', name: 'a' } }));
    assert.deepEqual(((await unsigned.json()) as { error: unknown }).error, {
      code: 'unauthenticated',
      message:
        "this request is not signed in: send the app's token (Authorization: Bearer …) or its session cookie",
    });
    // A token that was sent and refused is named as such, not as missing.
    const refused = await issuer.fetch(
      call('/v1/keys', { body: { op: 'put', name: 'a' }, headers: { authorization: 'Bearer wrong' } }),
    );
    assert.equal(refused.status, 401);
    assert.deepEqual(((await refused.json()) as { error: unknown }).error, {
      code: 'unauthenticated',
      message:
        "the app refused this request's token (Authorization header): it is wrong or has expired; sign in again",
    });
  });

  it('accepts storage events only when signed, records each once and calls the hook once', async () => {
    const completed: string[] = [];
    const { issuer } = await make({ onUploadComplete: (u) => void completed.push(u.eventId) });
    const minted = await issuer.mint('alice', { op: 'put', name: 'a.png', size: 10 });
    const event = createdEvent('evt_1', minted.object, minted.id);
    const unsigned = new Request(`${BASE}/v1/events`, { method: 'POST', body: JSON.stringify(event) });
    assert.equal(await errorCode(await issuer.fetch(unsigned)), 'signature_invalid');
    const stale = await issuer.fetch(await signedEvent(event, Date.now() - 301_000));
    assert.equal(await errorCode(stale), 'signature_invalid');

    const first = await issuer.fetch(await signedEvent(event));
    assert.deepEqual(await first.json(), { received: 'evt_1', duplicate: false });
    const second = await issuer.fetch(await signedEvent(event));
    assert.deepEqual(await second.json(), { received: 'evt_1', duplicate: true });
    assert.deepEqual(completed, ['evt_1']);
    assert.equal((await issuer.records.listEvents()).length, 1);
    assert.equal((await issuer.list('alice'))[0]?.key, 'users/alice/a.png');
  });

  it('calls the hook again on redelivery when it failed, and records the event once', async () => {
    let calls = 0;
    const { issuer } = await make({
      onUploadComplete: () => {
        calls++;
        if (calls === 1) throw new Error('app database down');
      },
    });
    const minted = await issuer.mint('alice', { op: 'put', name: 'a.png', size: 10 });
    const event = createdEvent('evt_2', minted.object, minted.id);
    assert.equal((await issuer.fetch(await signedEvent(event))).status, 500);
    assert.equal((await issuer.fetch(await signedEvent(event))).status, 200);
    assert.equal((await issuer.fetch(await signedEvent(event))).status, 200);
    assert.equal(calls, 2);
    assert.equal((await issuer.records.listEvents()).length, 1);
  });

  it('publishes revocations to signed polls only, with an ETag', async () => {
    const { issuer } = await make({ admins: ['root'] });
    const unsigned = await issuer.fetch(call('/v1/revocations'));
    assert.equal(await errorCode(unsigned), 'signature_invalid');
    const poll = async (etag?: string) =>
      issuer.fetch(
        call('/v1/revocations', {
          headers: {
            'valet-signature': await signRequest(SECRET, {
              method: 'GET',
              path: '/v1/revocations',
              body: '',
            }),
            ...(etag && { 'if-none-match': etag }),
          },
        }),
      );
    const first = await poll();
    assert.deepEqual(await first.json(), { keys: [], subjects: [], signing_keys: [] });
    const etag = first.headers.get('etag') as string;
    assert.equal((await poll(etag)).status, 304);

    assert.equal(
      await errorCode(
        await issuer.fetch(
          call('/v1/revocations', { user: 'alice', body: { kind: 'subject', value: 'bob' } }),
        ),
      ),
      'forbidden',
    );
    const admin = await issuer.fetch(
      call('/v1/revocations', { user: 'root', body: { kind: 'subject', value: 'bob' } }),
    );
    assert.equal(admin.status, 201);
    const minted = await issuer.mint('alice', { op: 'get', key: 'users/alice/a' });
    await issuer.revokeKey(minted.id);
    const changed = await poll(etag);
    assert.equal(changed.status, 200);
    const list = (await changed.json()) as { keys: Array<{ jti: string }>; subjects: Array<{ sub: string }> };
    assert.deepEqual(
      list.keys.map((k) => k.jti),
      [minted.id],
    );
    assert.deepEqual(
      list.subjects.map((s) => s.sub),
      ['bob'],
    );
  });

  it('limits share links to their rule and to existing objects', async () => {
    const { issuer } = await make();
    const minted = await issuer.mint('alice', { op: 'put', name: 'a.png', size: 10 });
    assert.equal(
      await errorCode(
        await issuer.fetch(call('/v1/shares', { user: 'alice', body: { key: minted.object, ttl: 60 } })),
      ),
      'not_found',
    );
    await issuer.fetch(await signedEvent(createdEvent('evt_3', minted.object, minted.id)));
    assert.equal(
      await errorCode(
        await issuer.fetch(call('/v1/shares', { user: 'alice', body: { key: minted.object, ttl: 3601 } })),
      ),
      'bad_request',
    );
    const created = await issuer.fetch(
      call('/v1/shares', { user: 'alice', body: { key: minted.object, ttl: 60 } }),
    );
    assert.equal(created.status, 201);
    const share = (await created.json()) as { id: string; url: string };
    assert.ok(share.url.startsWith(`${BASE}/s/`));
    const opened = await issuer.fetch(new Request(share.url));
    assert.equal(opened.status, 302);
    assert.match(
      opened.headers.get('location') ?? '',
      /^http:\/\/storage\.test\/o\/users\/alice\/a\.png\?vk=/,
    );
    assert.equal((await issuer.fetch(new Request(`${BASE}/s/${'A'.repeat(43)}`))).status, 404);
    assert.equal(
      await errorCode(await issuer.fetch(call(`/v1/shares/${share.id}`, { method: 'DELETE', user: 'bob' }))),
      'not_found',
    );
    assert.equal(
      (await issuer.fetch(call(`/v1/shares/${share.id}`, { method: 'DELETE', user: 'alice' }))).status,
      204,
    );
    assert.equal((await issuer.fetch(new Request(share.url))).status, 404);
  });

  it('ends a share link when its object is deleted or replaced: a link is to the version shared', async () => {
    const { issuer } = await make();
    const minted = await issuer.mint('alice', { op: 'put', name: 'a.png', size: 10 });
    await issuer.fetch(await signedEvent(createdEvent('evt_v1', minted.object, minted.id)));
    const first = await issuer.share('alice', minted.object, 600, BASE);
    assert.equal((await issuer.fetch(new Request(first.url))).status, 302);
    // A later upload under the same name: the link shared the earlier version only.
    const again = await issuer.mint('alice', { op: 'put', name: 'a.png', size: 10 });
    const replaced = { ...createdEvent('evt_v2', minted.object, again.id), etag: `"${'b'.repeat(64)}"` };
    await issuer.fetch(await signedEvent(replaced));
    const opened = await issuer.fetch(new Request(first.url));
    assert.equal(opened.status, 404);
    assert.match(
      ((await opened.json()) as { error: { message: string } }).error.message,
      /replaced since this link was made/,
    );
    const listed = async () =>
      (
        (await (await issuer.fetch(call('/v1/shares', { user: 'alice' }))).json()) as {
          shares: Array<{ id: string }>;
        }
      ).shares.map((s) => s.id);
    assert.deepEqual(await listed(), [], 'a link that no longer works is not listed');
    const second = await issuer.share('alice', minted.object, 600, BASE);
    assert.equal(
      (await issuer.fetch(new Request(second.url))).status,
      302,
      'a new link shares the new version',
    );
    // Deleted, then uploaded again: the link stays dead.
    await issuer.fetch(
      await signedEvent({ ...createdEvent('evt_del', minted.object, again.id), type: 'object.deleted' }),
    );
    assert.equal((await issuer.fetch(new Request(second.url))).status, 404);
    const third = await issuer.mint('alice', { op: 'put', name: 'a.png', size: 10 });
    await issuer.fetch(
      await signedEvent({ ...createdEvent('evt_v3', minted.object, third.id), etag: '"c"' }),
    );
    assert.equal((await issuer.fetch(new Request(second.url))).status, 404);
    assert.deepEqual(await listed(), []);
  });

  it('lists active share links, and shows a readable page for a dead link opened in a browser', async () => {
    const { issuer } = await make();
    const minted = await issuer.mint('alice', { op: 'put', name: 'a.png', size: 10 });
    await issuer.fetch(await signedEvent(createdEvent('evt_6', minted.object, minted.id)));
    const first = await issuer.share('alice', minted.object, 60, BASE);
    const second = await issuer.share('alice', minted.object, 120, BASE);
    await issuer.unshare('alice', first.id);
    const listed = (await (await issuer.fetch(call('/v1/shares', { user: 'alice' }))).json()) as {
      shares: Array<{ id: string; object: string }>;
    };
    assert.deepEqual(
      listed.shares.map((s) => [s.id, s.object]),
      [[second.id, minted.object]],
    );
    assert.deepEqual(
      ((await (await issuer.fetch(call('/v1/shares', { user: 'bob' }))).json()) as { shares: [] }).shares,
      [],
    );
    const browser = await issuer.fetch(new Request(first.url, { headers: { accept: 'text/html' } }));
    assert.equal(browser.status, 404);
    assert.match(browser.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await browser.text(), /Nothing here/);
    const api = await issuer.fetch(new Request(first.url));
    assert.equal(await errorCode(api), 'not_found');
  });

  it('mints read keys that force a download with a file name, on request', async () => {
    const { issuer } = await make();
    const res = await issuer.fetch(
      call('/v1/keys', {
        user: 'alice',
        body: { op: 'get', key: 'users/alice/a.png', disposition: 'attachment', filename: 'a.png' },
      }),
    );
    assert.deepEqual(((await res.json()) as { constraints: unknown }).constraints, {
      filename: 'a.png',
      inline: false,
      rev: 600,
    });
    const wrong = await issuer.fetch(
      call('/v1/keys', {
        user: 'alice',
        body: { op: 'put', name: 'b.png', size: 1, disposition: 'attachment' },
      }),
    );
    assert.equal(await errorCode(wrong), 'bad_request');
    // A client can never make storage render an upload inline.
    const inline = await issuer.fetch(
      call('/v1/keys', {
        user: 'alice',
        body: { op: 'get', key: 'users/alice/a.html', disposition: 'inline' },
      }),
    );
    assert.equal(await errorCode(inline), 'bad_request');
  });

  it('never logs a valet key or a share-link secret', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    const { issuer } = await make({ logger });
    const minted = await issuer.mint('alice', { op: 'put', name: 'a.png', size: 10 });
    await issuer.fetch(await signedEvent(createdEvent('evt_4', minted.object, minted.id)));
    const res = await issuer.fetch(
      call('/v1/keys', { user: 'alice', body: { op: 'get', key: minted.object } }),
    );
    const token = new URL(((await res.json()) as { url: string }).url).searchParams.get('vk') as string;
    const share = (await (
      await issuer.fetch(call('/v1/shares', { user: 'alice', body: { key: minted.object, ttl: 60 } }))
    ).json()) as { url: string };
    await issuer.fetch(new Request(share.url));
    const secret = share.url.split('/s/')[1] as string;
    const log = lines.join('');
    assert.ok(lines.length >= 3);
    assert.ok(!log.includes(token.split('.')[2] as string), 'no signature in logs');
    assert.ok(!log.includes(secret), 'no share secret in logs');
  });

  it('answers CORS preflights for configured origins only', async () => {
    const { issuer } = await make({ corsOrigins: ['https://app.example'] });
    const preflight = (origin: string) =>
      issuer.fetch(
        new Request(`${BASE}/v1/keys`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST' },
        }),
      );
    const allowed = await preflight('https://app.example');
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(await errorCode(await preflight('https://evil.example')), 'origin_not_allowed');
    const actual = await issuer.fetch(call('/healthz', { headers: { origin: 'https://app.example' } }));
    assert.equal(actual.headers.get('access-control-allow-origin'), 'https://app.example');
  });

  it('validates its options', async () => {
    const key = await testKey();
    const base: IssuerOptions = {
      signingKeys: [key.jwk],
      database: ':memory:',
      storageUrl: 'http://storage.test',
      storageSecret: SECRET,
      authenticate: () => 'a',
      rules: {},
    };
    const bad: Array<Partial<AnyIssuerOptions>> = [
      { storageSecret: 'short' },
      { oidc: { issuer: 'https://id.example', audience: 'x' } },
      { rules: { r: { op: 'get', maxSize: 1 } } },
      { rules: { r: { op: 'put', prefix: 'no-slash' } } },
      { rules: { 'bad name': { op: 'get' } } },
      { storageUrl: 'ftp://x' },
    ];
    for (const overrides of bad) {
      await assert.rejects(
        createIssuer({ ...base, ...overrides } as IssuerOptions),
        (e) => isValetError(e, 'invalid_options'),
        JSON.stringify(overrides),
      );
    }
    // No place for the records: refused, never kept in memory by default.
    const { database: _d, ...nowhere } = base;
    await assert.rejects(
      createIssuer(nowhere),
      (e) => isValetError(e, 'invalid_options') && /database/.test(e.message),
    );
    await createIssuer({ ...nowhere, database: ':memory:' }).then((issuer) => issuer.close());
    const { authenticate: _a, ...noAuth } = base;
    await assert.rejects(createIssuer(noAuth as IssuerOptions), (e) => isValetError(e, 'invalid_options'));
    await assert.rejects(
      createIssuer({
        ...noAuth,
        oidc: { issuer: 'https://id.example', audience: 'x', algorithms: ['HS256'] },
      }),
      (e) => isValetError(e, 'invalid_options'),
    );
  });
});
