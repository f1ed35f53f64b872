// examples/hono and examples/express: the issuer mounted at /api/valet in a Hono app
// (app.mount) and an Express app (app.use, which strips the prefix), from the packed package.
import { describe, it } from 'node:test';
import { exampleApp, roundTrip, started, storageFor } from './helpers.js';

for (const name of ['hono', 'express']) {
  describe(`examples/${name}`, () => {
    it('uploads, lists, shares and downloads through the app', async (t) => {
      const dir = await exampleApp(name);
      const { appPort, storageUrl } = await storageFor(t, dir, { basePath: '/api/valet' });
      await started(t, process.execPath, ['server.mjs'], {
        cwd: dir,
        env: { PORT: String(appPort), STORAGE_URL: storageUrl },
        ready: /listening on/,
      });
      await roundTrip(`http://127.0.0.1:${appPort}/api/valet`);
    });
  });
}
