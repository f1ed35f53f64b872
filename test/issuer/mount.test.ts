// The issuer inside an app, mounted under a path (a Next.js catch-all, Hono's mount, Express's
// app.use): storage polls revocations and posts events under that path, clients call it there,
// share links point there, whether or not the framework strips the prefix before the issuer.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { startSystem } from '../helpers/system.js';

describe('issuer mounted under a base path', () => {
  for (const strip of [false, true]) {
    it(`works end to end with the prefix ${strip ? 'stripped by the framework' : 'kept'}`, async (t) => {
      const system = await startSystem(t, { basePath: '/api/valet', stripBasePath: strip });
      const alice = system.client('alice');
      const uploaded = await alice.upload(new Blob(['mounted'], { type: 'text/plain' }), { name: 'm.txt' });
      // Storage's signed events reached the issuer under the base path: the object is registered.
      await waitFor(async () => (await alice.list()).some((o) => o.key === uploaded.key));
      const link = await alice.share(uploaded.key, { ttl: 60 });
      assert.ok(link.url.startsWith(`${system.served.url}/api/valet/s/`), link.url);
      const opened = await fetch(link.url);
      assert.equal(await opened.text(), 'mounted');
      assert.equal(await (await (await alice.download(uploaded.key)).blob()).text(), 'mounted');
      // (Storage was ready only once its signed revocation poll under the base path succeeded.)
      await alice.unshare(link.id);
      await waitFor(async () => (await fetch(link.url)).status === 404);
    });
  }
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a client pointed at the wrong place', () => {
  it('says what answered and what was expected: an app without the mount path, storage, a page', async (t) => {
    const system = await startSystem(t, { basePath: '/api/valet' });
    // An app that serves Valet under /api/valet and its own pages elsewhere.
    const app = http.createServer((req, res) => {
      if (req.url === '/spa/v1/keys') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
        return;
      }
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not found</h1>');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    t.after(() => app.close());
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const said = (issuer: string) =>
      createClient({ issuer, getToken: () => 'user:alice', retries: 0 })
        .upload(new Blob(['x']), { name: 'x.txt' })
        .then(
          () => 'uploaded',
          (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
        );

    assert.equal(
      await said(appUrl),
      `not_found: ${appUrl}/v1/keys answered 404 with a page that is not a Valet issuer's: is ${appUrl} ` +
        "your issuer's URL? If your app mounts Valet under a path (such as /api/valet), the issuer URL must end with it",
    );
    assert.equal(
      await said(`${appUrl}/spa`),
      `not_found: ${appUrl}/spa/v1/keys answered 200 with text/html, not JSON: is ${appUrl}/spa your issuer's ` +
        'URL? If your app mounts Valet under a path (such as /api/valet), the issuer URL must end with it',
    );
    assert.equal(
      await said(system.storage.url),
      'not_found: this is Valet storage, not the issuer: the issuer (/v1/…) is served by your app; point the client at it',
    );
    // The issuer itself, asked for a route it does not have, says where its API is.
    const unknown = await fetch(`${system.served.url}/api/valet/v2/keys`);
    assert.equal(unknown.status, 404);
    assert.equal(
      ((await unknown.json()) as { error: { message: string } }).error.message,
      'no such route on this Valet issuer: its API is under /api/valet/v1/',
    );
  });
});
