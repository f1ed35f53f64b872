// End-to-end: a single-use key works once, across restarts, and under concurrency.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunks, request } from '../helpers/http.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startStorage } from '../helpers/storage.js';

describe('single-use keys', () => {
  it('consumes a single-use read key with any use: a 304, a 412, a 416 or a 404 too', async (t) => {
    const key = await testKey();
    const { jwksFile } = await keyFiles([key]);
    const storage = await startStorage({ jwksFile }, t);
    const put = await key.mint({ op: 'put', object: 'once/oracle' });
    await request(storage.url, { method: 'PUT', path: `/o/once/oracle?vk=${put}`, body: 'secret' });
    for (const [headers, status] of [
      [{ 'if-none-match': '*' }, 304],
      [{ 'if-match': '"guess"' }, 412],
      [{ range: 'bytes=100-' }, 416],
    ] as const) {
      const token = await key.mint({ op: 'get', object: 'once/oracle', once: true });
      const first = await request(storage.url, { path: `/o/once/oracle?vk=${token}`, headers });
      assert.equal(first.status, status);
      const again = await request(storage.url, { path: `/o/once/oracle?vk=${token}`, headers });
      assert.equal(again.json.error?.code, 'token_replayed', `a second ${status} is no oracle`);
    }
    const missing = await key.mint({ op: 'get', object: 'once/missing', once: true });
    assert.equal((await request(storage.url, { path: `/o/once/missing?vk=${missing}` })).status, 404);
    assert.equal(
      (await request(storage.url, { path: `/o/once/missing?vk=${missing}` })).json.error?.code,
      'token_replayed',
    );
  });

  it('refuses a replay, also after a restart', async (t) => {
    const key = await testKey();
    const { jwksFile } = await keyFiles([key]);
    const first = await startStorage({ jwksFile }, t);
    const put = await key.mint({ op: 'put', object: 'once/a', once: true });
    assert.equal(
      (await request(first.url, { method: 'PUT', path: `/o/once/a?vk=${put}`, body: 'one' })).status,
      201,
    );
    const get = await key.mint({ op: 'get', object: 'once/a', once: true });
    assert.equal((await request(first.url, { path: `/o/once/a?vk=${get}` })).status, 200);

    const replayPut = await request(first.url, { method: 'PUT', path: `/o/once/a?vk=${put}`, body: 'two' });
    assert.equal(replayPut.status, 403);
    assert.equal(replayPut.json.error?.code, 'token_replayed');
    const replayGet = await request(first.url, { path: `/o/once/a?vk=${get}` });
    assert.equal(replayGet.json.error?.code, 'token_replayed');

    assert.equal(await first.stop('SIGTERM'), 0);
    const second = await startStorage({ jwksFile, dataDir: first.dataDir }, t);
    assert.equal(
      (await request(second.url, { path: `/o/once/a?vk=${get}` })).json.error?.code,
      'token_replayed',
    );
    const afterRestart = await request(second.url, {
      method: 'PUT',
      path: `/o/once/a?vk=${put}`,
      body: 'three',
    });
    assert.equal(afterRestart.json.error?.code, 'token_replayed');
    const check = await key.mint({ op: 'get', object: 'once/a' });
    assert.equal((await request(second.url, { path: `/o/once/a?vk=${check}` })).body.toString(), 'one');

    // A crash (SIGKILL) loses no consumption either: it is durable before the answer.
    const del = await key.mint({ op: 'delete', object: 'once/a', once: true });
    assert.equal((await request(second.url, { method: 'DELETE', path: `/o/once/a?vk=${del}` })).status, 204);
    await second.stop('SIGKILL');
    const third = await startStorage({ jwksFile, dataDir: first.dataDir }, t);
    const replayDelete = await request(third.url, { method: 'DELETE', path: `/o/once/a?vk=${del}` });
    assert.equal(replayDelete.json.error?.code, 'token_replayed');
    await third.stop();
  });

  it('lets exactly one of many concurrent uses succeed', async (t) => {
    const key = await testKey();
    const storage = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile }, t);
    const setup = await key.mint({ op: 'put', object: 'once/b' });
    await request(storage.url, { method: 'PUT', path: `/o/once/b?vk=${setup}`, body: 'b'.repeat(100_000) });

    const get = await key.mint({ op: 'get', object: 'once/b', once: true });
    const gets = await Promise.all(
      Array.from({ length: 16 }, () => request(storage.url, { path: `/o/once/b?vk=${get}` })),
    );
    assert.deepEqual(gets.map((r) => r.status).sort(), [200, ...Array(15).fill(403)]);
    assert.ok(gets.filter((r) => r.status === 403).every((r) => r.json.error?.code === 'token_replayed'));

    const put = await key.mint({ op: 'put', object: 'once/c', once: true });
    const puts = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        request(storage.url, {
          method: 'PUT',
          path: `/o/once/c?vk=${put}`,
          body: chunks(4, 10_000, 15, 0x30 + i),
        }),
      ),
    );
    assert.deepEqual(puts.map((r) => r.status).sort(), [201, ...Array(7).fill(403)]);
    await storage.stop();
  });

  it('refuses a second use while the first is still streaming, before reading its body', async (t) => {
    const key = await testKey();
    const storage = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile }, t);
    const put = await key.mint({ op: 'put', object: 'once/e', once: true });
    // The first upload takes about 1.5 s; the second must be refused long before that.
    const first = request(storage.url, {
      method: 'PUT',
      path: `/o/once/e?vk=${put}`,
      body: chunks(6, 1000, 300),
    });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    let firstDone = false;
    void first.then(() => {
      firstDone = true;
    });
    const second = await request(storage.url, {
      method: 'PUT',
      path: `/o/once/e?vk=${put}`,
      body: chunks(6, 1000, 300),
    });
    assert.equal(second.json.error?.code, 'token_replayed');
    assert.equal(firstDone, false, 'refused while the first upload was still in progress');
    assert.ok(Date.now() - started < 1000);
    assert.equal((await first).status, 201);
    await storage.stop();
  });

  it('keeps a single-use upload key usable when its upload failed', async (t) => {
    const key = await testKey();
    const storage = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile }, t);
    const put = await key.mint({ op: 'put', object: 'once/d', once: true, maxSize: 5 });
    const failed = await request(storage.url, {
      method: 'PUT',
      path: `/o/once/d?vk=${put}`,
      body: 'too long',
    });
    assert.equal(failed.json.error?.code, 'entity_too_large');
    assert.equal(
      (await request(storage.url, { method: 'PUT', path: `/o/once/d?vk=${put}`, body: 'ok' })).status,
      201,
    );
    assert.equal(
      (await request(storage.url, { method: 'PUT', path: `/o/once/d?vk=${put}`, body: 'ok' })).status,
      403,
    );
    await storage.stop();
  });
});
