// End-to-end: the server is killed (SIGKILL) in the middle of uploads. After a restart the new
// object is absent, the earlier version is intact, and no temporary file remains.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { request } from '../helpers/http.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startStorage, tmpFiles } from '../helpers/storage.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('crash safety', () => {
  it('loses no committed object and shows no partial one after a SIGKILL mid-upload', async (t) => {
    const key = await testKey();
    const { jwksFile } = await keyFiles([key]);
    const storage = await startStorage({ jwksFile }, t);
    const v1 = Buffer.alloc(3 * 1024 * 1024, 0x31);
    const put1 = await key.mint({ op: 'put', object: 'crash/doc' });
    assert.equal(
      (await request(storage.url, { method: 'PUT', path: `/o/crash/doc?vk=${put1}`, body: v1 })).status,
      201,
    );

    // Two uploads in flight: a replacement of crash/doc and a new object, each half sent.
    const url = new URL(storage.url);
    const sockets: net.Socket[] = [];
    for (const object of ['crash/doc', 'crash/new']) {
      const token = await key.mint({ op: 'put', object });
      const socket = net.connect(Number(url.port), url.hostname);
      socket.on('error', () => {});
      socket.write(
        `PUT /o/${object}?vk=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`,
      );
      socket.write(Buffer.alloc(4 * 1024 * 1024, 0x32));
      sockets.push(socket);
    }
    // Wait until the server is writing both temporary files, then kill it.
    for (let i = 0; i < 100 && (await tmpFiles(storage.dataDir)).length < 2; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await tmpFiles(storage.dataDir)).length, 2, 'both uploads are in progress');
    await new Promise((r) => setTimeout(r, 200));
    await storage.stop('SIGKILL');
    for (const s of sockets) s.destroy();
    assert.equal((await tmpFiles(storage.dataDir)).length, 2, 'the crash left its temporary files');

    const restarted = await startStorage({ jwksFile, dataDir: storage.dataDir }, t);
    assert.deepEqual(await tmpFiles(restarted.dataDir), [], 'start-up swept them');
    assert.match(restarted.logs(), /removed a temporary file left by an earlier run/);
    const getDoc = await key.mint({ op: 'get', object: 'crash/doc' });
    const doc = await request(restarted.url, { path: `/o/crash/doc?vk=${getDoc}` });
    assert.equal(doc.status, 200);
    assert.equal(sha256(doc.body), sha256(v1), 'the earlier version is intact');
    const getNew = await key.mint({ op: 'get', object: 'crash/new' });
    assert.equal((await request(restarted.url, { path: `/o/crash/new?vk=${getNew}` })).status, 404);
    await restarted.stop();
  });
});
