// End-to-end: an upload keeps its file's name by default, as the drop zone, Uppy and the CLI do
// (client.upload(file) and useUpload().upload(file) stored under a made-up name before).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { openFile } from '../../src/client/node.js';
import { startSystem } from '../helpers/system.js';

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

describe('what an upload says of its object', () => {
  it("keeps the file's own name and the app's fields with the object: listed, hooked, downloaded", async (t) => {
    const hooked: Array<{ filename?: string; metadata?: Record<string, string> }> = [];
    const system = await startSystem(t, {
      issuer: { onUploadComplete: ({ filename, metadata }) => void hooked.push({ filename, metadata }) },
    });
    const client = createClient({ issuer: system.served.url, getToken: () => 'user:alice' });
    const photo = new File(['jpeg bytes'], 'Holiday photo.jpg', { type: 'image/jpeg' });
    const metadata = { caption: 'On the beach', album: '2026' };
    const { key } = await client.upload(photo, { name: 'p1.jpg', metadata });
    assert.equal(key, 'users/alice/p1.jpg');

    const [listed] = await client.list();
    assert.equal(listed?.filename, 'Holiday photo.jpg');
    assert.deepEqual(listed?.metadata, metadata);
    assert.deepEqual(hooked, [{ filename: 'Holiday photo.jpg', metadata }]);

    // Downloads and share links are saved under the file's own name, unless asked otherwise.
    const disposition = async (url: string) => (await fetch(url)).headers.get('content-disposition');
    assert.equal(
      await disposition((await client.readUrl(key, { disposition: 'attachment' })).url),
      'attachment; filename="Holiday photo.jpg"',
    );
    assert.equal(await disposition((await client.readUrl(key)).url), 'inline; filename="Holiday photo.jpg"');
    assert.equal(
      await disposition((await client.readUrl(key, { filename: 'other.jpg' })).url),
      'inline; filename="other.jpg"',
    );
    const link = await client.share(key, { ttl: 60 });
    assert.equal(await disposition(link.url), 'inline; filename="Holiday photo.jpg"');

    // A resumable upload keeps them through its renewed keys.
    const big = new File([new Uint8Array(64 * 1024)], 'scan.pdf', { type: 'application/pdf' });
    await client.upload(big, { resumable: true, metadata: { pages: '3' } });
    const scan = (await client.list()).find((o) => o.key === 'users/alice/scan.pdf');
    assert.equal(scan?.filename, 'scan.pdf');
    assert.deepEqual(scan?.metadata, { pages: '3' });

    // A new version says what its own upload said: data with no name says nothing.
    await client.upload(new Blob(['replaced']), { name: 'p1.jpg' });
    const replaced = (await client.list()).find((o) => o.key === key);
    assert.equal(replaced?.filename, undefined);
    assert.equal(replaced?.metadata, undefined);
    assert.equal(await disposition((await client.readUrl(key)).url), 'attachment; filename="p1.jpg"');
  });

  it('refuses metadata outside its limits with the reason, and on keys other than uploads', async (t) => {
    const system = await startSystem(t);
    const client = createClient({ issuer: system.served.url, getToken: () => 'user:alice' });
    const refusal = (metadata: Record<string, string>) =>
      client.upload(new Blob(['x']), { name: 'x.txt', metadata }).then(
        () => 'uploaded',
        (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
      );
    assert.match(
      await refusal({ Caption: 'x' }),
      /^bad_request: .*the metadata name "Caption" is not 1 to 64 of a-z, 0-9, _ and -/,
    );
    assert.match(await refusal({ note: 'x'.repeat(1025) }), /^bad_request: .*1024/);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`f${i}`, 'v']));
    assert.match(await refusal(many), /^bad_request: .*at most 32 metadata fields/);
    const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`f${i}`, 'v'.repeat(1000)]));
    assert.match(await refusal(big), /^bad_request: .*metadata of at most 8192 bytes in all/);
    assert.equal(await refusal({ note: 'ok' }), 'uploaded');
    const get = await fetch(`${system.served.url}/v1/keys`, {
      method: 'POST',
      headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
      body: JSON.stringify({ op: 'get', key: 'users/alice/x.txt', metadata: { a: 'b' } }),
    });
    assert.equal(get.status, 400);
    assert.match(
      ((await get.json()) as { error: { message: string } }).error.message,
      /metadata applies to put keys only/,
    );
  });
});
