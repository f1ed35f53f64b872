// The issuer inside an app, mounted under a path (a Next.js catch-all, Hono's mount, Express's
// app.use): storage polls revocations and posts events under that path, clients call it there,
// share links point there, whether or not the framework strips the prefix before the issuer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSystem } from './helpers/system.js';

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
