// End-to-end: a version uploaded with a `hold` key is unreadable until the issuer's publish key
// makes it readable; a hold survives a restart; a later version, a deletion, end it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomKeyId } from '../../src/token/mint.js';
import { request } from '../helpers/http.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startStorage } from '../helpers/storage.js';

async function held() {
  const key = await testKey();
  const { jwksFile } = await keyFiles([key]);
  const read = async (url: string, object: string, extra: { held?: boolean; op?: 'get' | 'head' } = {}) => {
    const token = await key.mint({ op: extra.op ?? 'get', object, ...(extra.held && { held: true }) });
    return request(url, { method: extra.op === 'head' ? 'HEAD' : 'GET', path: `/o/${object}?vk=${token}` });
  };
  const put = async (url: string, object: string, body: string, hold: boolean) => {
    const jti = randomKeyId();
    const token = await key.mint({ op: 'put', object, jti, ...(hold && { hold: true }) });
    const answer = await request(url, { method: 'PUT', path: `/o/${object}?vk=${token}`, body });
    assert.ok(answer.status === 201 || answer.status === 200, `PUT answered ${answer.status}`);
    return jti;
  };
  const publish = async (url: string, object: string, version: string) => {
    const token = await key.mint({ op: 'publish', object, version });
    return request(url, { method: 'POST', path: `/o/${object}?vk=${token}` });
  };
  return { key, jwksFile, read, put, publish };
}

describe('held versions', () => {
  it('refuses every reader but the validators until the version is published, across a restart', async (t) => {
    const h = await held();
    const first = await startStorage({ jwksFile: h.jwksFile }, t);
    const version = await h.put(first.url, 'held/a', 'checked later', true);
    for (const op of ['get', 'head'] as const) {
      const refused = await h.read(first.url, 'held/a', { op });
      assert.equal(refused.status, 409, `${op} of a held version`);
    }
    assert.equal((await h.read(first.url, 'held/a')).json.error?.code, 'object_pending');
    const validator = await h.read(first.url, 'held/a', { held: true });
    assert.equal(validator.status, 200);
    assert.equal(validator.body.toString(), 'checked later');

    assert.equal(await first.stop('SIGTERM'), 0);
    const second = await startStorage({ jwksFile: h.jwksFile, dataDir: first.dataDir }, t);
    assert.equal((await h.read(second.url, 'held/a')).status, 409, 'still held after a restart');
    assert.equal((await h.publish(second.url, 'held/a', version)).status, 204);
    assert.equal((await h.read(second.url, 'held/a')).body.toString(), 'checked later');
    assert.equal(
      (await h.publish(second.url, 'held/a', version)).status,
      204,
      'publishing twice is harmless',
    );
  });

  it('publishes only the version it names; a later version or a deletion ends a hold', async (t) => {
    const h = await held();
    const storage = await startStorage({ jwksFile: h.jwksFile }, t);
    const older = await h.put(storage.url, 'held/b', 'one', true);
    const newer = await h.put(storage.url, 'held/b', 'two', true);
    const stale = await h.publish(storage.url, 'held/b', older);
    assert.equal(stale.json.error?.code, 'precondition_failed', 'a replaced version is not published');
    assert.equal((await h.read(storage.url, 'held/b')).status, 409, 'the newer version stays held');
    assert.equal((await h.publish(storage.url, 'held/b', newer)).status, 204);
    assert.equal((await h.read(storage.url, 'held/b')).body.toString(), 'two');

    await h.put(storage.url, 'held/c', 'held', true);
    await h.put(storage.url, 'held/c', 'not held', false);
    assert.equal((await h.read(storage.url, 'held/c')).body.toString(), 'not held');

    await h.put(storage.url, 'held/d', 'held', true);
    const del = await h.key.mint({ op: 'delete', object: 'held/d' });
    assert.equal((await request(storage.url, { method: 'DELETE', path: `/o/held/d?vk=${del}` })).status, 204);
    await h.put(storage.url, 'held/d', 'again', false);
    assert.equal((await h.read(storage.url, 'held/d')).body.toString(), 'again');
  });

  it('refuses a publish key for any other operation, and a get key at POST', async (t) => {
    const h = await held();
    const storage = await startStorage({ jwksFile: h.jwksFile }, t);
    const version = await h.put(storage.url, 'held/e', 'x', true);
    const publishKey = await h.key.mint({ op: 'publish', object: 'held/e', version });
    const asRead = await request(storage.url, { path: `/o/held/e?vk=${publishKey}` });
    assert.equal(asRead.json.error?.code, 'scope_mismatch');
    const getKey = await h.key.mint({ op: 'get', object: 'held/e', held: true });
    const asPublish = await request(storage.url, { method: 'POST', path: `/o/held/e?vk=${getKey}` });
    assert.equal(asPublish.json.error?.code, 'scope_mismatch');
    assert.equal((await h.read(storage.url, 'held/e')).status, 409);
  });
});
