// End-to-end: an upload keeps its file's name by default, as the drop zone, Uppy and the CLI do
// (client.upload(file) and useUpload().upload(file) stored under a made-up name before).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from '../src/client/client.js';
import { openFile } from '../src/client/node.js';
import { startSystem } from './helpers/system.js';

describe('object names', () => {
  it("keeps a file's own name unless the caller gives another", async (t) => {
    const system = await startSystem(t);
    const client = createClient({ issuer: system.served.url, getToken: () => 'user:alice' });

    const file = new File(['quarterly'], 'report 2026.txt', { type: 'text/plain' });
    assert.equal((await client.upload(file)).key, 'users/alice/report 2026.txt');

    const dir = await mkdtemp(path.join(tmpdir(), 'valet-names-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'photo.jpg'), 'jpeg bytes');
    assert.equal(
      (await client.upload(await openFile(path.join(dir, 'photo.jpg')))).key,
      'users/alice/photo.jpg',
    );

    assert.equal((await client.upload(file, { name: 'renamed.txt' })).key, 'users/alice/renamed.txt');

    // Data with no name of its own gets one from the issuer, under the caller's prefix.
    const made = await client.upload(new Blob(['anonymous']));
    assert.match(made.key, /^users\/alice\/[^/]+$/);
    assert.doesNotMatch(made.key, /undefined|blob/);
  });
});
