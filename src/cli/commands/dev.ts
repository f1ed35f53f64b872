import * as fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { toNodeListener } from '../../issuer/http/node.js';
import { createIssuer, type Issuer } from '../../issuer/issuer.js';
import type { Rule } from '../../issuer/rules.js';
import { createStorageServer, type StorageServer } from '../../storage/server.js';
import { generateSigningJwk, type PrivateSigningJwk, publicJwk, TrustedKeys } from '../../token/keys.js';
import { bundleWebApp } from '../../web/bundle.js';
import { demoPage, demoPageCsp } from '../../web/page.js';
import { type Command, optional, parseLogLevel, parsePort, parseSize, UsageError } from '../args.js';
import { DEV_AUDIENCE, DEV_USERS, DevIdentityProvider } from '../dev-idp.js';
import { untilSignal } from '../lifecycle.js';
import { loadOrCreateJson, loadOrCreateSecret } from '../secrets.js';

/** The development policy: each user owns `users/<subject>/`, uploads up to `maxUpload` bytes. */
export function devRules(
  maxUpload = 5 * 2 ** 30,
  accept: Rule['accept'] = undefined,
): Readonly<Record<string, Rule>> {
  const with_ = (rule: Rule): Rule => (accept ? { ...rule, accept } : rule);
  return {
    upload: with_({ op: 'put', prefix: 'users/{subject}/', maxSize: maxUpload }),
    read: with_({ op: 'get', prefix: 'users/{subject}/' }),
    remove: with_({ op: 'delete', prefix: 'users/{subject}/' }),
    share: with_({ op: 'share', prefix: 'users/{subject}/' }),
  };
}

export const dev: Command = {
  name: 'dev',
  summary: 'run issuer, storage, demo page and a development identity provider on this machine',
  help: `Usage: valet dev [--port 8080] [--storage-port 0] [--data .valet] [--max-upload 5GiB] [--json]
                 [--log-level warn]
                 [--storage s3 --s3-endpoint URL --s3-bucket NAME [--s3-region REGION]]

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
  --storage KIND       valet (default: Valet's own storage) or s3 (an S3-compatible engine,
                       credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)
  --s3-endpoint URL    the S3 endpoint (path-style), e.g. http://127.0.0.1:7480 for Ceph RGW
  --s3-bucket NAME     the bucket, created if missing (its CORS is set for the page's origin)
  --s3-region REGION   the region (default us-east-1)
  --json               print the ready line as JSON
  --log-level LEVEL    fatal, error, warn, info, debug or silent (default warn)
  -h, --help           show this help`,
  options: {
    port: { type: 'string' },
    'storage-port': { type: 'string' },
    data: { type: 'string' },
    'max-upload': { type: 'string' },
    storage: { type: 'string' },
    's3-endpoint': { type: 'string' },
    's3-bucket': { type: 'string' },
    's3-region': { type: 'string' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  async run(values) {
    const port = parsePort(optional(values, 'port') ?? '8080', '--port');
    const storagePort = parsePort(optional(values, 'storage-port') ?? '0', '--storage-port');
    const dataDir = path.resolve(optional(values, 'data') ?? '.valet');
    const maxUpload = parseSize(optional(values, 'max-upload') ?? '5GiB', '--max-upload');
    const kind = optional(values, 'storage') ?? 'valet';
    if (kind !== 'valet' && kind !== 's3') throw new UsageError('--storage must be valet or s3');
    const s3Options = kind === 's3' ? s3OptionsFrom(values) : undefined;
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
      const common = {
        signingKeys: [signingJwk],
        storageSecret: secret,
        oidc: { issuer: DevIdentityProvider.issuerFor(base), audience: DEV_AUDIENCE, algorithms: ['ES256'] },
        database: path.join(dataDir, 'issuer.sqlite'),
        publicUrl: base,
        logger: logger.child({ service: 'valet-issuer' }),
      };
      let storageUrl: string;
      if (s3Options) {
        // An S3 engine: presigned URLs work until they expire and cannot be revoked, so the dev
        // policy accepts single use and revocation as not enforced (see the README's table).
        // The SDK is an optional peer dependency: loaded only here.
        const { S3Driver } = await import('../../drivers/s3/index.js');
        const driver = new S3Driver(s3Options);
        await driver.ensureBucket();
        await driver.allowOrigins([base]);
        storageUrl = `${s3Options.endpoint}/${s3Options.bucket}`;
        storageOrigin = new URL(s3Options.endpoint).origin;
        issuer = await createIssuer({
          ...common,
          driver,
          rules: devRules(maxUpload, ['once', 'revocation']),
        });
      } else {
        storage = await createStorageServer({
          dataDir: path.join(dataDir, 'storage'),
          keys: await TrustedKeys.fromJwks({ keys: [publicJwk(signingJwk)] }),
          corsOrigins: [base],
          logger: logger.child({ service: 'valet-storage' }),
          revocations: { url: `${base}/v1/revocations`, secret },
          events: { url: `${base}/v1/events`, secret },
        });
        storageUrl = await storage.listen(storagePort, '127.0.0.1');
        storageOrigin = new URL(storageUrl).origin;
        issuer = await createIssuer({ ...common, storageUrl, rules: devRules(maxUpload) });
        await storage.refreshRevocations();
      }
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

function s3OptionsFrom(values: Record<string, unknown>) {
  const endpoint = optional(values, 's3-endpoint');
  const bucket = optional(values, 's3-bucket');
  if (!endpoint || !/^https?:\/\//.test(endpoint))
    throw new UsageError('--storage s3 needs --s3-endpoint URL');
  if (!bucket) throw new UsageError('--storage s3 needs --s3-bucket NAME');
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new UsageError('--storage s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ''),
    bucket,
    region: optional(values, 's3-region') ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    // Ceph RGW 16 and some other engines ignore x-amz-checksum-sha256; assume they do.
    checksums: false,
  };
}
