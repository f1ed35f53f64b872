// Hostile input at the issuer's door answers a 4xx with a stable code, never a 500 (issue 14).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testKey } from '../../../test/helpers/keys.js';
import { createIssuer } from '../issuer.js';
import { subjectSegment } from '../rules.js';

async function issuer() {
  return createIssuer({
    signingKeys: [(await testKey()).jwk],
    database: ':memory:',
    storageUrl: 'http://127.0.0.1:9',
    storageSecret: 's'.repeat(43),
    // (A header cannot carry a lone surrogate; an app's hook or a token's JSON can.)
    authenticate: (request) => {
      const user = request.headers.get('x-user');
      return user?.startsWith('u+') ? String.fromCharCode(Number.parseInt(user.slice(2), 16)) : user;
    },
    rules: {
      upload: { op: 'put', prefix: 'users/{subject}/' },
      share: { op: 'share', prefix: 'users/{subject}/' },
    },
  });
}

async function answer(response: Response): Promise<[number, string]> {
  return [response.status, ((await response.json()) as { error: { code: string } }).error.code];
}

describe('hostile input at the issuer', () => {
  it('answers malformed percent-encoding in a path with 400 bad_request', async (t) => {
    const service = await issuer();
    t.after(() => service.close());
    for (const [method, path] of [
      ['DELETE', '/v1/shares/%'],
      ['POST', '/v1/keys/%C0%AF/complete'],
      ['GET', '/v1/uploads/%E0%A4%A'],
    ] as const) {
      const response = await service.fetch(
        new Request(`http://issuer.test${path}`, { method, headers: { 'x-user': 'alice' } }),
      );
      assert.deepEqual(await answer(response), [400, 'bad_request'], `${method} ${path}`);
    }
  });

  it('refuses a subject with a lone surrogate: 401 at the door, bad_request through the API', async (t) => {
    const service = await issuer();
    t.after(() => service.close());
    for (const code of ['d800', 'dc00', 'dbff']) {
      const subject = String.fromCharCode(Number.parseInt(code, 16));
      const response = await service.fetch(
        new Request('http://issuer.test/v1/keys', {
          method: 'POST',
          headers: { 'x-user': `u+${code}`, 'content-type': 'application/json' },
          body: JSON.stringify({ op: 'put', name: 'a.txt', size: 1 }),
        }),
      );
      assert.deepEqual(await answer(response), [401, 'unauthenticated']);
      await assert.rejects(service.mint(subject, { op: 'put', name: 'a.txt', size: 1 }), {
        code: 'bad_request',
      });
    }
    assert.equal(subjectSegment('😀 ok'), encodeURIComponent('😀 ok'), 'a surrogate pair is fine');
  });

  it('refuses NUL and unpaired surrogates in paths, queries, bodies and file names with 400', async (t) => {
    const service = await issuer();
    t.after(() => service.close());
    const call = (method: string, path: string, body?: unknown) =>
      service.fetch(
        new Request(`http://issuer.test${path}`, {
          method,
          headers: { 'x-user': 'alice', 'content-type': 'application/json' },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        }),
      );
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['GET', '/v1/objects?prefix=a%00b', undefined, /prefix holds a NUL character/],
      ['GET', '/v1/objects?after=%00', undefined, /after holds a NUL character/],
      ['DELETE', '/v1/shares/shr_%00', undefined, /path holds a NUL character/],
      [
        'POST',
        '/v1/keys',
        { op: 'put', name: 'a.txt', size: 1, content_type: 'text/\u0000' },
        /content_type holds a NUL/,
      ],
      [
        'POST',
        '/v1/keys',
        { op: 'put', name: 'a.txt', size: 1, rule: 'x\ud800' },
        /rule holds an unpaired surrogate/,
      ],
      [
        'POST',
        '/v1/keys',
        { op: 'get', key: 'users/alice/a.txt', filename: 'r\ud800.pdf' },
        /filename holds an unpaired surrogate/,
      ],
    ];
    for (const [method, path, body, message] of cases) {
      const response = await call(method, path, body);
      const payload = (await response.json()) as { error: { code: string; message: string } };
      assert.deepEqual([response.status, payload.error.code], [400, 'bad_request'], `${method} ${path}`);
      assert.match(payload.error.message, message);
    }
    // In a name or key the naming rules answer, with their own code.
    for (const name of ['a\u0000.txt', 'x\ud800.txt']) {
      const response = await call('POST', '/v1/keys', { op: 'put', name, size: 1 });
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'invalid_object_key');
    }
    // A NUL in the subject: refused at the door, and through the API.
    await assert.rejects(service.mint('a\u0000b', { op: 'put', name: 'a.txt', size: 1 }), {
      code: 'bad_request',
    });
  });
});
