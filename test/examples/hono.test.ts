// examples/hono: the issuer mounted in a Hono app at /api/valet, from the packed package.
import { describe, it } from 'node:test';
import { exampleApp, roundTrip, started, storageFor } from './helpers.js';

describe('examples/hono', () => {
  it('uploads, lists, shares and downloads through the app', async (t) => {
    const dir = await exampleApp('hono');
    const { appPort, storageUrl } = await storageFor(t, dir, { basePath: '/api/valet' });
    await started(t, process.execPath, ['server.mjs'], {
      cwd: dir,
      env: { PORT: String(appPort), STORAGE_URL: storageUrl },
      ready: /listening on/,
    });
    await roundTrip(`http://127.0.0.1:${appPort}/api/valet`);
  });
});
