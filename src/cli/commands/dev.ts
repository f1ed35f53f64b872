import * as fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { createIssuer, type Issuer } from '../../issuer/issuer.js';
import { toNodeListener } from '../../issuer/node.js';
import type { Rule } from '../../issuer/rules.js';
import { createStorageServer, type StorageServer } from '../../storage/server.js';
import { generateSigningJwk, type PrivateSigningJwk, publicJwk, TrustedKeys } from '../../token/keys.js';
import { bundleWebApp } from '../../web/bundle.js';
import { demoPage, demoPageCsp } from '../../web/page.js';
import { type Command, optional, parseLogLevel, parsePort, parseSize } from '../args.js';
import { DEV_AUDIENCE, DEV_USERS, DevIdentityProvider } from '../dev-idp.js';
import { untilSignal } from '../lifecycle.js';
import { loadOrCreateJson, loadOrCreateSecret } from '../secrets.js';

/** The development policy: each user owns `users/<subject>/`, uploads up to `maxUpload` bytes. */
export function devRules(maxUpload = 5 * 2 ** 30): Readonly<Record<string, Rule>> {
  return {
    upload: { op: 'put', prefix: 'users/{subject}/', maxSize: maxUpload },
    read: { op: 'get', prefix: 'users/{subject}/' },
    remove: { op: 'delete', prefix: 'users/{subject}/' },
    share: { op: 'share', prefix: 'users/{subject}/' },
  };
}

export const dev: Command = {
  name: 'dev',
  summary: 'run issuer, storage, demo page and a development identity provider on this machine',
  help: `Usage: valet dev [--port 8080] [--storage-port 0] [--data .valet] [--max-upload 5GiB] [--json]
                 [--log-level warn]

Starts the whole system on 127.0.0.1: the issuer (with the demo page at /), Valet storage, and
a development OpenID provider with two users, alice and bob. Keys and secrets are generated
on first use under the data directory and reused after. Each user may upload (up to 5 GiB an
object) to, read, delete and share only objects under users/<user>/.

Once ready it prints the issuer, storage and web URLs and a bearer token for each user; with
--json exactly one line: {"issuer":URL,"storage":URL,"web":URL,"users":{"alice":TOKEN,"bob":TOKEN}}.
SIGTERM or SIGINT stops everything cleanly.

Options:
  --port PORT          issuer and web port, 0 for any free port (default 8080)
  --storage-port PORT  storage port (default 0: any free port)
  --data DIR           data directory (default .valet)
  --max-upload SIZE    largest object a user may upload (default 5GiB)
  --json               print the ready line as JSON
  --log-level LEVEL    fatal, error, warn, info, debug or silent (default warn)
  -h, --help           show this help`,
  options: {
    port: { type: 'string' },
    'storage-port': { type: 'string' },
    data: { type: 'string' },
    'max-upload': { type: 'string' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  async run(values) {
    const port = parsePort(optional(values, 'port') ?? '8080', '--port');
    const storagePort = parsePort(optional(values, 'storage-port') ?? '0', '--storage-port');
    const dataDir = path.resolve(optional(values, 'data') ?? '.valet');
    const maxUpload = parseSize(optional(values, 'max-upload') ?? '5GiB', '--max-upload');
    const script = await bundleWebApp();
    const logger = pino(
      { level: parseLogLevel(optional(values, 'log-level') ?? 'warn'), base: { service: 'valet-dev' } },
      pino.destination({ dest: 2, sync: false }),
    );
    await fs.mkdir(path.join(dataDir, 'storage'), { recursive: true, mode: 0o700 });
    const signingJwk = await loadOrCreateJson<PrivateSigningJwk>(
      path.join(dataDir, 'signing.jwk'),
      generateSigningJwk,
    );
    const secret = await loadOrCreateSecret(path.join(dataDir, 'storage.secret'));
    const idp = await DevIdentityProvider.open(path.join(dataDir, 'idp.jwk'));

    // The issuer's port is bound first: storage needs its URL for revocations and events, and the
    // issuer needs storage's URL for the keys it mints. Until both are up, requests get a 503.
    let issuer: Issuer | undefined;
    let base = '';
    let storageOrigin = '';
    const web = http.createServer(
      toNodeListener({
        fetch: async (request, info) => {
          const fromIdp = await idp.handle(request, base);
          if (fromIdp) return fromIdp;
          const { pathname } = new URL(request.url);
          if (pathname === '/' && request.method === 'GET') {
            return new Response(demoPage(), {
              headers: {
                'content-type': 'text/html; charset=utf-8',
                'content-security-policy': demoPageCsp(storageOrigin),
                'x-content-type-options': 'nosniff',
                'referrer-policy': 'no-referrer',
              },
            });
          }
          if (pathname === '/app.js' && request.method === 'GET') {
            return new Response(script, {
              headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' },
            });
          }
          if (!issuer)
            return Response.json({ error: { code: 'unavailable', message: 'starting' } }, { status: 503 });
          return issuer.fetch(request, info);
        },
      }),
    );
    await new Promise<void>((resolve, reject) => {
      web.once('error', reject);
      web.listen(port, '127.0.0.1', () => resolve());
    });
    base = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;

    let storage: StorageServer | undefined;
    const stopAll = async () => {
      await storage?.close();
      web.closeAllConnections();
      await new Promise<void>((resolve) => web.close(() => resolve()));
      await issuer?.close();
      logger.flush();
    };
    try {
      storage = await createStorageServer({
        dataDir: path.join(dataDir, 'storage'),
        keys: await TrustedKeys.fromJwks({ keys: [publicJwk(signingJwk)] }),
        corsOrigins: [base],
        logger: logger.child({ service: 'valet-storage' }),
        revocations: { url: `${base}/v1/revocations`, secret },
        events: { url: `${base}/v1/events`, secret },
      });
      const storageUrl = await storage.listen(storagePort, '127.0.0.1');
      storageOrigin = new URL(storageUrl).origin;
      issuer = await createIssuer({
        signingKeys: [signingJwk],
        storageUrl,
        storageSecret: secret,
        oidc: { issuer: DevIdentityProvider.issuerFor(base), audience: DEV_AUDIENCE, algorithms: ['ES256'] },
        rules: devRules(maxUpload),
        database: path.join(dataDir, 'issuer.sqlite'),
        publicUrl: base,
        logger: logger.child({ service: 'valet-issuer' }),
      });
      await storage.refreshRevocations();
      const users: Record<string, string> = {};
      for (const user of DEV_USERS) users[user] = await idp.token(base, user);
      const ready = { issuer: base, storage: storageUrl, web: `${base}/`, users };
      process.stdout.write(
        values.json
          ? `${JSON.stringify(ready)}\n`
          : `valet dev is running (data in ${dataDir})
  issuer   ${ready.issuer}
  storage  ${ready.storage}
  web      ${ready.web}
${DEV_USERS.map((u) => `  ${u.padEnd(8)} ${users[u]}`).join('\n')}
Try: valet upload FILE --issuer ${base} --token <alice's token>
`,
      );
    } catch (error) {
      await stopAll();
      throw error;
    }
    return untilSignal(stopAll, undefined, (error) => logger.error({ err: error }, 'shutdown failed'));
  },
};
