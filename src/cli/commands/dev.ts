import * as fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import type { StorageDriver } from '../../drivers/types.js';
import { createIssuer, type Issuer, isPostgresUrl } from '../../issuer/issuer.js';
import type { Rule } from '../../issuer/rules.js';
import { clamdTarget } from '../../issuer/validation/clamav.js';
import { createStorageServer, type StorageServer } from '../../storage/server.js';
import { generateSigningJwk, type PrivateSigningJwk, publicJwk, TrustedKeys } from '../../token/keys.js';
import { bundleWebApp } from '../../web/bundle.js';
import { type Command, optional, parseLogLevel, parsePort, parseSize, UsageError } from '../args.js';
import { type AzureCliOptions, azureDriver } from '../azure.js';
import { DEV_AUDIENCE, DEV_USERS, DevIdentityProvider } from '../dev-idp.js';
import { devWebListener } from '../dev-web.js';
import { type GcsCliOptions, gcsDriver } from '../gcs.js';
import { untilSignal } from '../lifecycle.js';
import { loadOrCreateJson, loadOrCreateSecret } from '../secrets.js';

/**
 * The development policy: each user owns `users/<subject>/`, uploads up to `maxUpload` bytes, each
 * checked before anyone may read it: its true type, and with clamd a virus scan.
 */
export function devRules(
  maxUpload = 5 * 2 ** 30,
  accept: Rule['accept'] = undefined,
  scan = false,
): Readonly<Record<string, Rule>> {
  const with_ = (rule: Rule): Rule => (accept ? { ...rule, accept } : rule);
  return {
    upload: with_({
      op: 'put',
      prefix: 'users/{subject}/',
      maxSize: maxUpload,
      validate: scan ? ['type', 'clamav'] : ['type'],
    }),
    read: with_({ op: 'get', prefix: 'users/{subject}/' }),
    remove: with_({ op: 'delete', prefix: 'users/{subject}/' }),
    share: with_({ op: 'share', prefix: 'users/{subject}/' }),
  };
}

export const dev: Command = {
  name: 'dev',
  summary: 'run issuer, storage, demo page and a development identity provider on this machine',
  help: `Usage: valet dev [--port 8080] [--storage-port 0] [--data .valet] [--max-upload 5GiB] [--json]
                 [--log-level warn] [--clamd HOST:PORT|SOCKET]
                 [--storage s3 --s3-endpoint URL --s3-bucket NAME [--s3-region REGION]]
                 [--storage azure [--azure-container NAME]]
                 [--storage gcs --gcs-bucket NAME [--gcs-endpoint URL]] [--database postgres://…]

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
  --clamd ADDRESS      scan every upload with ClamAV's clamd at HOST:PORT or a socket path
                       before anyone may read it (every upload's true type is always checked)
  --storage KIND       valet (default: Valet's own storage), s3 (an S3-compatible engine,
                       credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), azure
                       (Azure Blob Storage or Azurite, AZURE_STORAGE_CONNECTION_STRING) or gcs
                       (Google Cloud Storage: GOOGLE_APPLICATION_CREDENTIALS naming a service
                       account's JSON key file, or GCS_HMAC_ACCESS_ID and GCS_HMAC_SECRET)
  --s3-endpoint URL    the S3 endpoint (path-style), e.g. http://127.0.0.1:7480 for Ceph RGW
  --s3-bucket NAME     the bucket, created if missing (its CORS is set for the page's origin)
  --s3-region REGION   the region (default us-east-1)
  --azure-container NAME  the container, created if missing (default valet; the account's
                       CORS is set for the page's origin)
  --gcs-bucket NAME    the bucket, which must exist (its CORS is set for the page's origin)
  --gcs-endpoint URL   the XML API's origin (default https://storage.googleapis.com)
  --database URL       keep the issuer's records in PostgreSQL (postgres://user@host/db; the
                       password from PGPASSWORD) instead of DIR/issuer.sqlite
  --json               print the ready line as JSON
  --log-level LEVEL    fatal, error, warn, info, debug or silent (default warn)
  -h, --help           show this help`,
  options: {
    port: { type: 'string' },
    'storage-port': { type: 'string' },
    data: { type: 'string' },
    'max-upload': { type: 'string' },
    clamd: { type: 'string' },
    storage: { type: 'string' },
    's3-endpoint': { type: 'string' },
    's3-bucket': { type: 'string' },
    's3-region': { type: 'string' },
    'azure-container': { type: 'string' },
    'gcs-bucket': { type: 'string' },
    'gcs-endpoint': { type: 'string' },
    database: { type: 'string' },
    json: { type: 'boolean' },
    'log-level': { type: 'string' },
  },
  async run(values) {
    const port = parsePort(optional(values, 'port') ?? '8080', '--port');
    const dataDir = path.resolve(optional(values, 'data') ?? '.valet');
    const kind = optional(values, 'storage') ?? 'valet';
    if (kind !== 'valet' && kind !== 's3' && kind !== 'azure' && kind !== 'gcs') {
      throw new UsageError('--storage must be valet, s3, azure or gcs');
    }
    const database = optional(values, 'database');
    if (database !== undefined && !isPostgresUrl(database)) {
      throw new UsageError(
        '--database must be a postgres:// URL (without it, records go in DIR/issuer.sqlite)',
      );
    }
    const setup: DevSetup = {
      dataDir,
      database,
      storagePort: parsePort(optional(values, 'storage-port') ?? '0', '--storage-port'),
      maxUpload: parseSize(optional(values, 'max-upload') ?? '5GiB', '--max-upload'),
      clamd: clamdOption(optional(values, 'clamd')),
      s3: kind === 's3' ? s3OptionsFrom(values) : undefined,
      azure: kind === 'azure' ? { container: optional(values, 'azure-container') ?? 'valet' } : undefined,
      gcs: kind === 'gcs' ? gcsOptionsFrom(values) : undefined,
      logger: pino(
        { level: parseLogLevel(optional(values, 'log-level') ?? 'warn'), base: { service: 'valet-dev' } },
        pino.destination({ dest: 2, sync: false }),
      ),
    };
    const script = await bundleWebApp();
    await fs.mkdir(path.join(dataDir, 'storage'), { recursive: true, mode: 0o700 });
    const signingJwk = await loadOrCreateJson<PrivateSigningJwk>(
      path.join(dataDir, 'signing.jwk'),
      generateSigningJwk,
    );
    const secret = await loadOrCreateSecret(path.join(dataDir, 'storage.secret'));
    const idp = await DevIdentityProvider.open(path.join(dataDir, 'idp.jwk'));
    // The issuer's port is bound first: storage needs its URL for revocations and events, and the
    // issuer needs storage's URL for the keys it mints. Until both are up, requests get a 503.
    const state: DevState = { base: '', storageOrigin: '' };
    const web = await serveWeb(port, state, idp, script);
    const stopAll = async () => {
      await state.storage?.close();
      web.closeAllConnections();
      await new Promise<void>((resolve) => web.close(() => resolve()));
      await state.issuer?.close();
      setup.logger.flush();
    };
    try {
      const storageUrl = await startIssuerAndStore(setup, state, signingJwk, secret);
      const users: Record<string, string> = {};
      for (const user of DEV_USERS) users[user] = await idp.token(state.base, user);
      printReady(
        { issuer: state.base, storage: storageUrl, web: `${state.base}/`, users },
        dataDir,
        values.json === true,
      );
    } catch (error) {
      await stopAll();
      throw error;
    }
    return untilSignal(stopAll, undefined, (error) => setup.logger.error({ err: error }, 'shutdown failed'));
  },
};

/** What `valet dev` was asked for. */
interface DevSetup {
  dataDir: string;
  /** A PostgreSQL URL for the issuer's records; default: a SQLite file in dataDir. */
  database: string | undefined;
  storagePort: number;
  maxUpload: number;
  /** clamd's address: every upload is scanned. */
  clamd: string | undefined;
  s3: ReturnType<typeof s3OptionsFrom> | undefined;
  azure: AzureCliOptions | undefined;
  gcs: GcsCliOptions | undefined;
  logger: pino.Logger;
}

/** What the web server answers with, filled in as the parts start. */
interface DevState {
  base: string;
  storageOrigin: string;
  issuer?: Issuer;
  storage?: StorageServer;
}

/** The issuer's port: the development OpenID provider, the demo page, and the issuer (503 until it is up). */
async function serveWeb(
  port: number,
  state: DevState,
  idp: DevIdentityProvider,
  script: string,
): Promise<http.Server> {
  const web = http.createServer(devWebListener(state, idp, script));
  await new Promise<void>((resolve, reject) => {
    web.once('error', reject);
    web.listen(port, '127.0.0.1', () => resolve());
  });
  state.base = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  return web;
}

/** Starts the store (Valet storage, or the S3 driver's bucket) and the issuer for it; returns the store's URL. */
async function startIssuerAndStore(
  setup: DevSetup,
  state: DevState,
  signingJwk: PrivateSigningJwk,
  secret: string,
): Promise<string> {
  const { base } = state;
  const common = {
    signingKeys: [signingJwk],
    storageSecret: secret,
    oidc: { issuer: DevIdentityProvider.issuerFor(base), audience: DEV_AUDIENCE, algorithms: ['ES256'] },
    database: setup.database ?? path.join(setup.dataDir, 'issuer.sqlite'),
    publicUrl: base,
    logger: setup.logger.child({ service: 'valet-issuer' }),
    ...(setup.clamd !== undefined && { validation: { clamd: setup.clamd } }),
  };
  const scan = setup.clamd !== undefined;
  const engine = await engineFor(setup, base);
  if (engine) {
    // An engine's presigned URL or SAS works until it expires and cannot be revoked, so the dev
    // policy accepts single use and revocation as not enforced (see the README's table).
    state.storageOrigin = new URL(engine.url).origin;
    state.issuer = await createIssuer({
      ...common,
      driver: engine.driver,
      rules: devRules(setup.maxUpload, ['once', 'revocation'], scan),
    });
    return engine.url;
  }
  state.storage = await createStorageServer({
    dataDir: path.join(setup.dataDir, 'storage'),
    keys: await TrustedKeys.fromJwks({ keys: [publicJwk(signingJwk)] }),
    corsOrigins: [base],
    logger: setup.logger.child({ service: 'valet-storage' }),
    revocations: { url: `${base}/v1/revocations`, secret },
    events: { url: `${base}/v1/events`, secret },
  });
  const storageUrl = await state.storage.listen(setup.storagePort, '127.0.0.1');
  state.storageOrigin = new URL(storageUrl).origin;
  state.issuer = await createIssuer({
    ...common,
    storageUrl,
    rules: devRules(setup.maxUpload, undefined, scan),
  });
  await state.storage.refreshRevocations();
  return storageUrl;
}

/**
 * The S3 bucket or Azure container `valet dev` was asked for, created if missing and opened to
 * the page's origin (CORS), or the GCS bucket (which must exist), opened likewise; undefined for
 * Valet's own storage. Each SDK is an optional peer
 * dependency, loaded only here.
 */
async function engineFor(
  setup: DevSetup,
  base: string,
): Promise<{ driver: StorageDriver; url: string } | undefined> {
  if (setup.s3) {
    const { S3Driver } = await import('../../drivers/s3/index.js');
    const driver = new S3Driver(setup.s3);
    await driver.ensureBucket();
    await driver.allowOrigins([base]);
    await driver.refuseCopies();
    return { driver, url: `${setup.s3.endpoint}/${setup.s3.bucket}` };
  }
  if (setup.azure) {
    const driver = await azureDriver(setup.azure, '--storage azure');
    await driver.ensureContainer();
    await driver.allowOrigins([base]);
    return { driver, url: driver.container.url };
  }
  if (setup.gcs) {
    // A browser sends a session's chunks only from the origin that started it: the page's.
    const driver = await gcsDriver({ ...setup.gcs, sessionOrigin: base }, '--storage gcs');
    const ready = await driver.ready();
    if (ready.status !== 'ok') throw new UsageError(`--storage gcs: ${ready.problem}`);
    await driver.allowOrigins([base]);
    return { driver, url: `${driver.endpoint}/${driver.bucket}` };
  }
  return undefined;
}

function printReady(
  ready: { issuer: string; storage: string; web: string; users: Record<string, string> },
  dataDir: string,
  json: boolean,
): void {
  process.stdout.write(
    json
      ? `${JSON.stringify(ready)}\n`
      : `valet dev is running (data in ${dataDir})
  issuer   ${ready.issuer}
  storage  ${ready.storage}
  web      ${ready.web}
${DEV_USERS.map((u) => `  ${u.padEnd(8)} ${ready.users[u]}`).join('\n')}
Try it as alice, in another terminal of this directory (paste as it is):
  export VALET_ISSUER=${ready.issuer} VALET_TOKEN=${ready.users.alice}
  npx valet upload package.json && npx valet ls
`,
  );
}

function gcsOptionsFrom(values: Record<string, unknown>): GcsCliOptions {
  const bucket = optional(values, 'gcs-bucket');
  if (!bucket) throw new UsageError('--storage gcs needs --gcs-bucket NAME (an existing bucket)');
  const endpoint = optional(values, 'gcs-endpoint');
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) {
    throw new UsageError('--gcs-endpoint must be an http(s) URL');
  }
  return { bucket, ...(endpoint !== undefined && { endpoint: endpoint.replace(/\/+$/, '') }) };
}

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

/** `--clamd`: clamd's address, checked now (a typo is a usage error, not a stuck upload). */
function clamdOption(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  try {
    clamdTarget(address);
  } catch (error) {
    throw new UsageError(`--clamd: ${(error as Error).message}`);
  }
  return address;
}
