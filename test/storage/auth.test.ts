// End-to-end: a real `valet storage` process refuses every key that does not authorise exactly
// this operation on exactly this object.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import { encodeObjectKeyPath } from '../../src/token/object-key.js';
import { rawExchange, request } from '../helpers/http.js';
import {
  b64json,
  claimsFor,
  keyFiles,
  signRaw,
  type TestKey,
  testKey,
  VALET_KEY_TYP,
} from '../helpers/keys.js';
import { type RunningStorage, startStorage } from '../helpers/storage.js';

describe('storage authorisation', () => {
  let key: TestKey;
  let retired: TestKey;
  let storage: RunningStorage;
  const tokens: string[] = [];
  const mint: TestKey['mint'] = async (options) => {
    const token = await key.mint(options);
    tokens.push(token);
    return token;
  };
  const get = (path: string, headers: Record<string, string> = {}) => request(storage.url, { path, headers });
  const get2 = (base: string, path: string) => request(base, { path });

  before(async () => {
    key = await testKey();
    retired = await testKey();
    const files = await keyFiles([key]);
    storage = await startStorage({ jwksFile: files.jwksFile });
    const put = await mint({ op: 'put', object: 'docs/a.txt' });
    const res = await request(storage.url, { method: 'PUT', path: `/o/docs/a.txt?vk=${put}`, body: 'hello' });
    assert.equal(res.status, 201);
  });
  after(() => storage.stop());

  it('serves a request whose key matches, from the query or the Authorization header', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    const viaQuery = await get(`/o/docs/a.txt?vk=${token}`);
    assert.equal(viaQuery.status, 200);
    assert.equal(viaQuery.body.toString(), 'hello');
    const viaHeader = await get('/o/docs/a.txt', { authorization: `Bearer ${token}` });
    assert.equal(viaHeader.status, 200);
  });

  it('asks for a key when there is none', async () => {
    const res = await get('/o/docs/a.txt');
    assert.equal(res.status, 401);
    assert.equal(res.json.error?.code, 'token_missing');
    assert.match(String(res.headers['www-authenticate']), /^Bearer /);
  });

  it('refuses a key in both the URL and the header, or twice in the URL', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    const both = await get(`/o/docs/a.txt?vk=${token}`, { authorization: `Bearer ${token}` });
    assert.equal(both.status, 400);
    assert.equal(both.json.error?.code, 'bad_request');
    const twice = await get(`/o/docs/a.txt?vk=${token}&vk=${token}`);
    assert.equal(twice.json.error?.code, 'bad_request');
  });

  it('refuses two Authorization headers as ambiguous, whichever comes first', async () => {
    const good = await mint({ op: 'get', object: 'docs/a.txt' });
    const other = await mint({ op: 'get', object: 'docs/b.txt' });
    for (const [first, second] of [
      [good, other],
      [good, good],
    ]) {
      const raw = await rawExchange(
        storage.url,
        `GET /o/docs/a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${first}\r\nAuthorization: Bearer ${second}\r\nConnection: close\r\n\r\n`,
      );
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.match(raw, /"code":"bad_request"/);
      assert.match(raw, /more than one Authorization header/);
    }
  });

  it('refuses a tampered signature', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    const [h, p, s = ''] = token.split('.');
    const res = await get(
      `/o/docs/a.txt?vk=${h}.${p}.${s[5] === 'A' ? 'B' : 'A'}${s.slice(1, 5)}${s.slice(6)}`,
    );
    assert.equal(res.status, 401);
    assert.equal(res.json.error?.code, 'token_invalid');
  });

  it('refuses a payload swapped under a valid signature', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    const [h, p = '', s] = token.split('.');
    const swapped = b64json({ ...jose.decodeJwt(`${h}.${p}.${s}`), op: 'delete' });
    const res = await get(`/o/docs/a.txt?vk=${h}.${swapped}.${s}`);
    assert.equal(res.json.error?.code, 'token_invalid');
  });

  it('refuses alg none', async () => {
    const token = `${b64json({ alg: 'none', typ: VALET_KEY_TYP, kid: key.jwk.kid })}.${b64json(claimsFor('get', 'docs/a.txt'))}.`;
    const res = await get(`/o/docs/a.txt?vk=${token}`);
    assert.equal(res.status, 401);
    assert.equal(res.json.error?.code, 'token_invalid');
  });

  it('refuses an HS256 key whose HMAC secret is the public key', async () => {
    const token = await signRaw(
      { alg: 'HS256', typ: VALET_KEY_TYP, kid: key.jwk.kid },
      claimsFor('get', 'docs/a.txt'),
      jose.base64url.decode(key.jwk.x),
    );
    const res = await get(`/o/docs/a.txt?vk=${token}`);
    assert.equal(res.json.error?.code, 'token_invalid');
  });

  it('refuses a signed key whose file name holds an unpaired surrogate (never a 500)', async () => {
    const put = await key.mint({ op: 'put', object: 'docs/surrogate.txt' });
    assert.equal(
      (await request(storage.url, { method: 'PUT', path: `/o/docs/surrogate.txt?vk=${put}`, body: 'x' }))
        .status,
      201,
    );
    const token = await signRaw(
      { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: key.jwk.kid },
      { ...claimsFor('get', 'docs/surrogate.txt'), filename: 'r\ud800.pdf' },
      key.signing.privateKey,
    );
    const res = await get(`/o/docs/surrogate.txt?vk=${token}`);
    assert.equal(res.status, 401);
    assert.equal(res.json.error?.code, 'token_invalid');
    await assert.rejects(key.mint({ op: 'get', object: 'docs/surrogate.txt', filename: 'r\ud800.pdf' }), {
      code: 'invalid_options',
    });
  });

  it('refuses a JWT of another type signed by the trusted key', async () => {
    const token = await signRaw(
      { alg: 'EdDSA', typ: 'JWT', kid: key.jwk.kid },
      { ...claimsFor('get', 'docs/a.txt'), iss: 'https://idp.example', aud: 'app' },
      key.signing.privateKey,
    );
    const res = await get(`/o/docs/a.txt?vk=${token}`);
    assert.equal(res.json.error?.code, 'token_invalid');
  });

  it('refuses an unknown kid and a valid key signed by a retired key', async () => {
    const unknown = await signRaw(
      { alg: 'EdDSA', typ: VALET_KEY_TYP, kid: 'not-a-known-kid' },
      claimsFor('get', 'docs/a.txt'),
      key.signing.privateKey,
    );
    assert.equal((await get(`/o/docs/a.txt?vk=${unknown}`)).json.error?.code, 'token_invalid');
    const byRetired = await retired.mint({ op: 'get', object: 'docs/a.txt' });
    const res = await get(`/o/docs/a.txt?vk=${byRetired}`);
    assert.equal(res.status, 401);
    assert.equal(res.json.error?.code, 'token_invalid');
  });

  it('refuses an expired key', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt', ttl: 60, now: () => Date.now() - 200_000 });
    const res = await get(`/o/docs/a.txt?vk=${token}`);
    assert.equal(res.status, 403);
    assert.equal(res.json.error?.code, 'token_expired');
  });

  it('refuses a key that expired after it was first used', async (t) => {
    // Storage remembers verified keys; the memory must not outlive the key.
    const strict = await startStorage(
      { jwksFile: (await keyFiles([key])).jwksFile, args: ['--clock-skew', '0s'] },
      t,
    );
    const put = await key.mint({ op: 'put', object: 'short/lived' });
    await request(strict.url, { method: 'PUT', path: `/o/short/lived?vk=${put}`, body: 'x' });
    const token = await key.mint({ op: 'get', object: 'short/lived', ttl: 2 });
    assert.equal((await get2(strict.url, `/o/short/lived?vk=${token}`)).status, 200);
    await new Promise((r) => setTimeout(r, 2100));
    const late = await get2(strict.url, `/o/short/lived?vk=${token}`);
    assert.equal(late.status, 403);
    assert.equal(late.json.error?.code, 'token_expired');
    await strict.stop();
  });

  it('refuses a key that is not valid yet', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt', notBefore: 600 });
    const res = await get(`/o/docs/a.txt?vk=${token}`);
    assert.equal(res.status, 403);
    assert.equal(res.json.error?.code, 'token_not_yet_valid');
  });

  it('refuses a validly signed key that lives longer than the maximum lifetime', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt', ttl: 2 * 3600 });
    const res = await get(`/o/docs/a.txt?vk=${token}`);
    assert.equal(res.status, 403);
    assert.equal(res.json.error?.code, 'token_lifetime_too_long');
  });

  it('refuses a key for another operation', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    for (const method of ['PUT', 'DELETE', 'HEAD']) {
      const res = await request(storage.url, {
        method,
        path: `/o/docs/a.txt?vk=${token}`,
        body: method === 'PUT' ? 'x' : undefined,
      });
      assert.equal(res.status, 403, method);
      if (method !== 'HEAD') assert.equal(res.json.error?.code, 'scope_mismatch');
    }
    assert.equal(
      (await get(`/o/docs/a.txt?vk=${token}`)).body.toString(),
      'hello',
      'the object is unchanged',
    );
  });

  it('refuses a key for another object', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    for (const path of [
      '/o/docs/b.txt',
      '/o/docs/a.txt2',
      '/o/docs',
      '/o/DOCS/a.txt',
      '/o/docs/a.txt/x',
      '/o/%252e%252e/docs/a.txt',
    ]) {
      const res = await get(`${path}?vk=${token}`);
      assert.equal(res.status, 403, path);
      assert.equal(res.json.error?.code, 'scope_mismatch', path);
    }
  });

  it('refuses traversal and hostile encodings of the object name as invalid names', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    const hostile = [
      '/o/docs/../docs/a.txt',
      '/o/docs/%2e%2e/docs/a.txt',
      '/o/docs/%2E%2E%2Fdocs/a.txt',
      '/o/docs/./a.txt',
      '/o/docs//a.txt',
      '/o/..%2f..%2fetc%2fpasswd',
      '/o/docs%5ca.txt',
      '/o/docs/a.txt%00',
      '/o/docs/%c0%ae%c0%ae/a.txt',
      '/o/%ZZ',
      '/o/',
    ];
    for (const path of hostile) {
      const res = await get(`${path}?vk=${token}`);
      assert.equal(res.status, 400, path);
      assert.equal(res.json.error?.code, 'invalid_object_key', path);
    }
  });

  it('treats %2F and the NFD form of a name as the same object key', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    assert.equal((await get(`/o/docs%2Fa.txt?vk=${token}`)).status, 200);
    const put = await mint({ op: 'put', object: 'docs/café.txt' });
    const nfd = encodeObjectKeyPath('docs/cafe\u0301.txt');
    assert.equal(
      (await request(storage.url, { method: 'PUT', path: `/o/${nfd}?vk=${put}`, body: 'x' })).status,
      201,
    );
    const read = await mint({ op: 'get', object: 'docs/cafe\u0301.txt' });
    assert.equal((await get(`/o/${encodeObjectKeyPath('docs/café.txt')}?vk=${read}`)).body.toString(), 'x');
  });

  it('never echoes a token in a response, and never logs one', async () => {
    const token = await mint({ op: 'get', object: 'docs/a.txt' });
    const responses = [
      await get(`/o/docs/b.txt?vk=${token}`),
      await get(`/o/docs/a.txt?vk=${token}x`),
      await get('/o/docs/a.txt', { authorization: `Bearer ${token}.x` }),
      await get(`/o/docs/../a?vk=${token}`),
    ];
    const signature = token.split('.')[2] ?? '';
    for (const res of responses) {
      assert.ok(!res.body.toString().includes(signature));
      assert.ok(!JSON.stringify(res.headers).includes(signature));
    }
    // Give the asynchronous logger a moment, then check every token used in this file.
    await new Promise((r) => setTimeout(r, 300));
    const logs = storage.logs();
    assert.match(logs, /"reqId":/);
    for (const t of tokens) {
      assert.ok(!logs.includes(t.split('.')[2] ?? ''), 'a signature appears in the log');
      assert.ok(!logs.includes(t.split('.')[1] ?? ''), 'a payload appears in the log');
    }
    assert.ok(!logs.includes('vk='));
  });
});
