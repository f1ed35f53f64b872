// End-to-end: CORS for browsers on configured origins only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { type RunningStorage, startStorage } from '../helpers/storage.js';

const APP = 'https://app.example';

describe('CORS', () => {
  let key: TestKey;
  let storage: RunningStorage;
  const preflight = (origin: string, method = 'PUT', headers = 'content-type, authorization') =>
    request(storage.url, {
      method: 'OPTIONS',
      path: '/o/any/object',
      headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers },
    });

  before(async () => {
    key = await testKey();
    storage = await startStorage({
      jwksFile: (await keyFiles([key])).jwksFile,
      args: ['--cors-origin', APP, '--cors-origin', 'http://localhost:5173'],
    });
  });
  after(() => storage.stop());

  it('answers a preflight for PUT with Content-Type and Authorization from a configured origin', async () => {
    for (const origin of [APP, 'http://localhost:5173']) {
      const res = await preflight(origin);
      assert.equal(res.status, 204);
      assert.equal(res.headers['access-control-allow-origin'], origin);
      assert.match(String(res.headers['access-control-allow-methods']), /\bPUT\b/);
      const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
      assert.match(allowed, /content-type/);
      assert.match(allowed, /authorization/);
      assert.match(String(res.headers.vary), /Origin/);
      assert.equal(res.headers['access-control-allow-credentials'], undefined);
    }
  });

  it('refuses a preflight from any other origin and reflects nothing', async () => {
    for (const origin of [
      'https://evil.example',
      'https://app.example.evil.example',
      'null',
      `${APP}/`,
      'http://app.example',
    ]) {
      const res = await preflight(origin);
      assert.equal(res.status, 403, origin);
      assert.equal(res.json.error?.code, 'origin_not_allowed');
      assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
    }
  });

  it('warns once per refused origin, by name, with the flag that would allow it', async () => {
    const origin = 'https://other-app.example';
    for (let i = 0; i < 3; i++) await preflight(origin);
    await request(storage.url, { method: 'GET', path: '/o/any/object', headers: { origin } });
    await request(storage.url, { method: 'GET', path: '/o/any/object', headers: { origin: APP } });
    const warnings = storage
      .logs()
      .split('\n')
      .filter((line) => line.includes('"level":40') && line.includes(origin));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0] as string,
      /a page at https:\/\/other-app\.example called storage from a browser, and that origin is not in --cors-origin: browsers refuse the page the answer\. If the page is yours, add --cors-origin https:\/\/other-app\.example/,
    );
    assert.ok(
      !storage
        .logs()
        .split('\n')
        .some((l) => l.includes('"level":40') && l.includes(`a page at ${APP} `)),
    );
  });

  it('exposes ETag to a configured origin on real responses, errors included', async () => {
    const put = await key.mint({ op: 'put', object: 'cors/a' });
    const res = await request(storage.url, {
      method: 'PUT',
      path: `/o/cors/a?vk=${put}`,
      body: 'x',
      headers: { origin: APP, 'content-type': 'text/plain' },
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers['access-control-allow-origin'], APP);
    assert.match(String(res.headers['access-control-expose-headers']), /ETag/);
    const denied = await request(storage.url, { path: '/o/cors/a', headers: { origin: APP } });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['access-control-allow-origin'], APP, 'the page can read why it was refused');
    const other = await request(storage.url, {
      path: '/o/cors/a',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  it('sends no CORS headers at all when no origin is configured', async (t) => {
    const bare = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile }, t);
    const res = await request(bare.url, {
      method: 'OPTIONS',
      path: '/o/x',
      headers: { origin: APP, 'access-control-request-method': 'PUT' },
    });
    assert.equal(res.status, 403);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    await bare.stop();
  });

  it('allows any origin only when * is configured, and then never echoes it', async (t) => {
    const open = await startStorage(
      { jwksFile: (await keyFiles([key])).jwksFile, args: ['--cors-origin', '*'] },
      t,
    );
    const res = await request(open.url, {
      method: 'OPTIONS',
      path: '/o/x',
      headers: { origin: 'https://anyone.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    await open.stop();
  });
});
