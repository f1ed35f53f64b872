// Fuzzing the doors: token strings, object keys, Range and conditional headers and tus headers
// at storage; paths and JSON bodies at the issuer; the parsers underneath. Any 5xx, crash or
// non-ValetError fails it. 5,000 cases per target with a fixed seed in `npm test`; `npm run fuzz`
// runs 100,000 (FUZZ_RUNS, FUZZ_SEED to change them).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pino from 'pino';
import { createIssuer, type Issuer } from '../../src/issuer/issuer.js';
import { parseHttpDate } from '../../src/storage/http/conditions.js';
import { parseRange } from '../../src/storage/http/range.js';
import { createStorageServer, type StorageServer } from '../../src/storage/server.js';
import { isValetError } from '../../src/token/errors.js';
import { publicJwk, TrustedKeys } from '../../src/token/keys.js';
import { normalizeObjectKey } from '../../src/token/object-key.js';
import { verifyValetKey } from '../../src/token/verify.js';
import { type TestKey, testKey } from '../helpers/keys.js';
import { type Postgres, startPostgres } from '../helpers/postgres.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 5000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
const settings = { numRuns: RUNS, seed: SEED, endOnFailure: true };

/** Percent-encodes what a URL cannot carry as is (lone surrogates as their UTF-16 code units). */
function percent(value: string): string {
  return value.replace(
    /[^A-Za-z0-9._~-]/g,
    (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').slice(-2)}`,
  );
}

/** One request over a keep-alive agent; undefined if Node's client refuses to send it at all. */
function send(
  base: string,
  agent: http.Agent,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<number | undefined> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let req: http.ClientRequest;
    try {
      req = http.request(
        {
          host: url.hostname,
          port: url.port,
          agent,
          method: options.method,
          path: options.path,
          // A body always with its length (Node's client frames none for a GET or DELETE).
          headers: {
            ...options.headers,
            ...(options.body !== undefined && { 'content-length': String(Buffer.byteLength(options.body)) }),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
          res.on('error', reject);
        },
      );
    } catch {
      // An invalid method, path or header value that Node will not put on the wire.
      resolve(undefined);
      return;
    }
    req.on('error', reject);
    req.end(options.body);
  });
}

const text = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('%', '/', '.', '\\', '"', '?', '#', '\u0000', '\ud800', 'é', '0', 'f', 'C'),
    maxLength: 40,
  }),
);

describe(`fuzz (${RUNS} cases per target, seed ${SEED})`, () => {
  let key: TestKey;
  let dataDir: string;
  let storage: StorageServer;
  let storageUrl: string;
  let issuer: Issuer;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let valid: string;

  before(async () => {
    key = await testKey();
    dataDir = await mkdtemp(path.join(tmpdir(), 'valet-fuzz-'));
    storage = await createStorageServer({
      dataDir,
      keys: await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] }),
      logger: pino({ level: 'silent' }),
      minRate: { bytesPerSecond: 0, window: 1000 },
    });
    storageUrl = await storage.listen(0, '127.0.0.1');
    valid = await key.mint({ op: 'get', object: 'fuzz/a.txt', ttl: 3600 });
    const put = await key.mint({ op: 'put', object: 'fuzz/a.txt' });
    assert.equal(
      await send(storageUrl, agent, { method: 'PUT', path: `/o/fuzz/a.txt?vk=${put}`, body: '0123456789' }),
      201,
    );
    issuer = await createIssuer({
      signingKeys: [key.jwk],
      database: ':memory:',
      storageUrl,
      storageSecret: 's'.repeat(43),
      authenticate: (request) => request.headers.get('x-user'),
      rules: {
        upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 2 ** 20 },
        read: { op: 'get', prefix: 'users/{subject}/' },
        share: { op: 'share', prefix: 'users/{subject}/' },
      },
    });
  });
  after(async () => {
    agent.destroy();
    await issuer?.close();
    await storage?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('storage: mangled valet keys never get a 5xx', async () => {
    const mangled = fc.oneof(
      text,
      fc
        .tuple(fc.nat(valid.length), fc.string({ maxLength: 4 }))
        .map(([at, s]) => valid.slice(0, at) + s + valid.slice(at + 1)),
      fc
        .tuple(fc.nat(valid.length), fc.nat(valid.length))
        .map(([a, b]) => valid.slice(Math.min(a, b), Math.max(a, b))),
    );
    await fc.assert(
      fc.asyncProperty(mangled, fc.boolean(), async (token, inHeader) => {
        const status = await send(storageUrl, agent, {
          method: 'GET',
          path: inHeader ? '/o/fuzz/a.txt' : `/o/fuzz/a.txt?vk=${percent(token)}`,
          ...(inHeader && { headers: { authorization: `Bearer ${token}` } }),
        });
        assert.ok(status === undefined || status < 500, `status ${status}`);
      }),
      settings,
    );
  });

  it('storage: object keys, Range and conditional headers never get a 5xx', async () => {
    const header = fc.oneof(
      text,
      fc.constantFrom('bytes=0-0', 'bytes=-0', 'bytes=5-', 'bytes=-99999999999999999999', '*', 'W/"x"'),
      fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    );
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.record(
          {
            range: header,
            'if-range': header,
            'if-match': header,
            'if-none-match': header,
            'if-modified-since': header,
            'if-unmodified-since': header,
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE'),
        async (object, headers, method) => {
          const pathPart = object.startsWith('/') ? object : `/o/${object}`;
          const status = await send(storageUrl, agent, {
            method,
            path: `${pathPart}${pathPart.includes('?') ? '&' : '?'}vk=${valid}`,
            headers: headers as Record<string, string>,
          });
          assert.ok(status === undefined || status < 500, `${method} ${pathPart}: ${status}`);
        },
      ),
      settings,
    );
  });

  it('storage: tus headers never get a 5xx', async () => {
    const creation = await key.mint({ op: 'put', object: 'fuzz/tus.bin', resumable: true, ttl: 3600 });
    const value = fc.oneof(text, fc.nat().map(String), fc.constantFrom('1.0.0', '0.2.2', '-1', '1e3', ''));
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            'tus-resumable': value,
            'upload-length': value,
            'upload-offset': value,
            'upload-metadata': value,
            'upload-defer-length': value,
            'upload-checksum': value,
            'content-type': fc.oneof(value, fc.constant('application/offset+octet-stream')),
          },
          { requiredKeys: [] },
        ),
        fc.constantFrom('POST', 'PATCH', 'HEAD', 'DELETE', 'OPTIONS'),
        fc.constantFrom('/uploads', '/uploads/x', '/uploads/%2e%2e', `/uploads/${'a'.repeat(22)}`),
        fc.string({ maxLength: 20 }),
        async (headers, method, target, body) => {
          const status = await send(storageUrl, agent, {
            method,
            path: target,
            headers: { ...(headers as Record<string, string>), authorization: `Bearer ${creation}` },
            body,
          });
          assert.ok(status === undefined || status < 500, `${method} ${target}: ${status}`);
        },
      ),
      settings,
    );
  });

  it('issuer: paths and JSON bodies never get a 5xx', async () => {
    const paths = fc.oneof(
      text.map((s) => `/${s}`),
      fc.constantFrom(
        '/v1/keys',
        '/v1/shares',
        '/v1/objects',
        '/v1/uploads/x/parts',
        '/v1/keys/x/complete',
        '/s/x',
      ),
      fc
        .tuple(fc.constantFrom('/v1/shares/', '/v1/uploads/', '/v1/keys/', '/s/'), text)
        .map(([a, b]) => a + b),
    );
    const bodies = fc.oneof(
      fc.json(),
      fc.string(),
      fc
        .record(
          {
            op: fc.oneof(fc.constantFrom('put', 'get', 'delete', 'share'), text),
            name: text,
            key: text,
            size: fc.oneof(fc.integer(), fc.double(), text),
            content_type: text,
            resumable: fc.oneof(fc.boolean(), text),
            ttl: fc.oneof(fc.integer(), text),
            part: fc.oneof(fc.integer(), text),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    );
    await fc.assert(
      fc.asyncProperty(
        paths,
        bodies,
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'HEAD'),
        fc.oneof(fc.constant('alice'), text),
        async (target, body, method, user) => {
          let request: Request;
          try {
            request = new Request(`http://issuer.test${target}`, {
              method,
              headers: { 'x-user': user, 'content-type': 'application/json' },
              ...(method !== 'GET' && method !== 'HEAD' && { body }),
            });
          } catch {
            return; // not a request a client could send
          }
          const response = await issuer.fetch(request);
          await response.body?.cancel();
          assert.ok(response.status < 500, `${method} ${target} ${body}: ${response.status}`);
        },
      ),
      settings,
    );
  });

  it('parsers: tokens, object keys, ranges and dates throw only Valet errors, or nothing', async () => {
    const trusted = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] });
    await fc.assert(
      fc.asyncProperty(text, fc.nat(), async (input, size) => {
        for (const attempt of [
          () => verifyValetKey(input, { keys: trusted }),
          async () => normalizeObjectKey(input),
          async () => parseRange(input, size),
          async () => parseHttpDate(input),
        ]) {
          try {
            await attempt();
          } catch (error) {
            assert.ok(isValetError(error), `${String(error)} for ${JSON.stringify(input)}`);
          }
        }
      }),
      settings,
    );
  });
});

// The same issuer doors with PostgreSQL records (several replicas' store): PostgreSQL refuses
// text SQLite takes (NUL, unpaired surrogates), which must be a 4xx, never a 500. The subject,
// the listing's query, share and upload ids, revocations and the names in key requests.
describe(`fuzz with PostgreSQL records (${Math.ceil(RUNS / 5)} cases per target, seed ${SEED})`, () => {
  const runs = { ...settings, numRuns: Math.ceil(RUNS / 5) };
  let postgres: Postgres;
  let issuer: Issuer;

  before(async () => {
    postgres = await startPostgres();
    const key = await testKey();
    issuer = await createIssuer({
      signingKeys: [key.jwk],
      database: await postgres.freshDatabase(),
      storageUrl: 'http://127.0.0.1:9',
      storageSecret: 's'.repeat(43),
      // The subject as a JSON string, so that a test can send any text as one (NUL, surrogates).
      authenticate: (request) => JSON.parse(request.headers.get('x-user') ?? 'null'),
      admins: ['admin'],
      rules: {
        upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 2 ** 20 },
        read: { op: 'get', prefix: 'users/{subject}/' },
        share: { op: 'share', prefix: 'users/{subject}/' },
      },
    });
  });
  after(async () => {
    await issuer?.close();
    await postgres?.stop();
  });

  const hostile = fc.oneof(
    text,
    fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\ud83d', 'é\u0000', 'users/alice/\u0000'),
  );
  const ascii = (json: string) =>
    json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const call = async (method: string, target: string, user: string, body?: unknown) => {
    let request: Request;
    try {
      request = new Request(`http://issuer.test${target}`, {
        method,
        headers: { 'x-user': ascii(JSON.stringify(user)), 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch {
      return undefined; // not a request a client could send
    }
    const response = await issuer.fetch(request);
    const text = await response.text();
    assert.ok(
      response.status < 500,
      `${method} ${target} ${JSON.stringify(body)} as ${JSON.stringify(user)}: ${response.status} ${text}`,
    );
    return response.status;
  };

  it("issuer (PostgreSQL): the attack run's cases answer 4xx", async () => {
    const cases: Array<[string, string, string, unknown?]> = [
      ['GET', '/v1/objects?prefix=%00', 'alice'],
      ['GET', '/v1/objects?after=a%00', 'alice'],
      ['DELETE', '/v1/shares/shr_%00', 'alice'],
      ['GET', '/v1/objects', 'al\u0000ice'],
      ['POST', '/v1/keys', 'al\u0000ice', { op: 'put', name: 'a.txt', size: 1 }],
      ['POST', '/v1/revocations', 'admin', { kind: 'subject', value: 'a\u0000' }],
      ['POST', '/v1/revocations', 'admin', { kind: 'key', value: '\u0000' }],
      ['POST', '/v1/revocations', 'admin', { kind: 'signing_key', value: 'k\u0000' }],
      ['POST', '/v1/keys', 'alice', { op: 'put', name: 'x\ud800.txt', size: 1 }],
      ['POST', '/v1/keys', 'alice', { op: 'get', key: 'users/alice/a.txt', filename: 'x\udc00' }],
    ];
    for (const [method, target, user, body] of cases) {
      const status = await call(method, target, user, body);
      assert.ok(status !== undefined && status >= 400 && status < 500, `${method} ${target}: ${status}`);
    }
  });

  it('issuer (PostgreSQL): subjects, listing queries, ids and names never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constant('alice'), hostile), hostile, hostile, async (user, a, b) => {
        await call('GET', `/v1/objects?prefix=${percent(a)}&after=${percent(b)}&limit=10`, user);
        await call('GET', '/v1/objects', user);
        await call('GET', '/v1/me', user);
        await call('GET', '/v1/shares', user);
        await call('DELETE', `/v1/shares/${percent(a)}`, user);
        await call('GET', `/s/${percent(a)}`, user);
        await call('POST', `/v1/keys/${percent(a)}/complete`, user, {});
        await call('POST', `/v1/uploads/${percent(a)}/parts`, user, { part: 1 });
        await call('POST', '/v1/keys', user, { op: 'put', name: a, size: 3, content_type: 'text/plain' });
        await call('POST', '/v1/keys', user, { op: 'get', key: `users/${user}/${a}`, filename: b });
        await call('POST', '/v1/shares', user, { key: `users/${user}/${a}`, ttl: 60 });
      }),
      runs,
    );
  });

  it('issuer (PostgreSQL): revocations by key, subject and signing key never get a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('key', 'subject', 'signing_key'),
        hostile,
        fc.oneof(
          fc.constant(undefined),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          hostile,
        ),
        async (kind, value, before) => {
          await call('POST', '/v1/revocations', 'admin', {
            kind,
            value,
            ...(before !== undefined && { before }),
          });
        },
      ),
      runs,
    );
  });
});
