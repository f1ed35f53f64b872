import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import type { StorageDriver } from '../../drivers/types.js';
import { toNodeListener } from '../../issuer/http/node.js';
import { createIssuer } from '../../issuer/issuer.js';
import { type Command, parseLogLevel, required } from '../args.js';
import { type Config, issuerOptions, readConfig, toSeconds } from '../issuer-config.js';
import { closeHttpServer, untilSignal } from '../lifecycle.js';
import { serveMetrics } from '../metrics-server.js';

export const issuer: Command = {
  name: 'issuer',
  summary: 'run the issuer alone, against a separate valet storage',
  help: `Usage: valet issuer --config FILE [--json]

Runs the issuer described by a JSON config file (format in docs/issuer.md; paths in it are
relative to the file). Prints "valet issuer listening on URL" on stdout once ready, then the
one command that runs Valet storage for it (with --json: {"url", "storage_command"}); JSON logs
go to stderr. Storage trusts the keys this issuer publishes, sends it completion events and polls
its revocations, with the shared secret. SIGTERM or SIGINT stops it.

Example config:
  {
    "port": 8080,
    "storageUrl": "http://127.0.0.1:9000",
    "signingKeys": ["signing.jwk"],
    "storageSecretFile": "storage.secret",
    "database": "issuer.sqlite",
    "oidc": { "issuer": "https://id.example.com", "audience": "my-app" },
    "rules": {
      "upload": { "op": "put", "prefix": "users/{subject}/", "maxSize": "100MiB", "ttl": "5m" },
      "read": { "op": "get", "prefix": "users/{subject}/" }
    },
    "quota": { "maxBytes": "10GiB", "maxObjects": 10000 }
  }

Options:
  --config FILE   the config file (required)
  --json          print the ready line as JSON
  -h, --help      show this help`,
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  async run(values) {
    const file = path.resolve(required(values, 'config'));
    const config = await readConfig(file);
    const logger = pino(
      { level: parseLogLevel(config.logLevel), base: { service: 'valet-issuer' } },
      pino.destination({ dest: 2, sync: false }),
    );
    const options = await issuerOptions(config, path.dirname(file));
    if (config.s3 && config.s3.refuseCopies !== false) await refuseCopiesOrWarn(options.driver, logger);
    const service = await createIssuer({ ...options, logger });
    const server = http.createServer(
      { headersTimeout: 20_000, requestTimeout: 60_000 },
      toNodeListener(service),
    );
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
    } catch (error) {
      await service.close();
      throw error;
    }
    const url = `http://${config.host}:${(server.address() as AddressInfo).port}`;
    const metrics =
      config.metricsPort === undefined
        ? undefined
        : await serveMetrics(() => service.metrics(), config.metricsPort, config.host);
    if (metrics) logger.info({ metrics: metrics.url }, 'metrics served');
    const command = storageCommand(config, file, url);
    logger.info({ url }, 'issuer listening');
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ url, ...(command && { storage_command: command }) })}\n`
        : `valet issuer listening on ${url}\n${command ? `run Valet storage for it with:\n  ${command}\n` : ''}`,
    );
    return untilSignal(
      async () => {
        await metrics?.close();
        await closeHttpServer(
          server,
          config.drain === undefined ? 30_000 : toSeconds(config.drain, 'drain') * 1000,
        );
        await service.close();
        logger.flush();
      },
      undefined,
      (error) => logger.error({ err: error }, 'shutdown failed'),
    );
  },
};

/**
 * The command that runs Valet storage for this issuer, as it stands (its public URL, or the one
 * it listens on, with its base path; the secret file next to the config; storage's port from
 * `storageUrl`); none when the issuer signs for S3, Azure or GCS.
 */
function storageCommand(config: Config, file: string, url: string): string | undefined {
  if (config.s3 || config.azure || config.gcs) return undefined;
  const issuer = `${(config.publicUrl ?? url).replace(/\/$/, '')}${config.basePath ?? ''}`;
  const secret = path.resolve(path.dirname(file), config.storageSecretFile);
  const storage = config.storageUrl ? new URL(config.storageUrl) : undefined;
  const quote = (text: string) =>
    /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
  return [
    'npx valet storage --data ./objects',
    `--issuer ${quote(issuer)}`,
    `--secret-file ${quote(secret)}`,
    ...(storage?.port ? [`--port ${storage.port}`] : []),
    ...(config.corsOrigins ?? []).map((origin) => `--cors-origin ${quote(origin)}`),
  ].join(' ');
}

/**
 * Has the S3 bucket refuse server-side copies (see drivers/s3/bucket-policy.ts). Without the
 * right to change its policy, the issuer still starts, and says what that leaves open.
 */
async function refuseCopiesOrWarn(driver: StorageDriver | undefined, logger: pino.Logger): Promise<void> {
  const s3 = driver as { refuseCopies?: () => Promise<void> } | undefined;
  try {
    await s3?.refuseCopies?.();
  } catch (error) {
    logger.warn(
      { err: error },
      'could not add the bucket-policy statement that refuses copies (s3:PutBucketPolicy): on an engine that takes unsigned x-amz-* headers on presigned requests (Ceph RGW), an upload key can copy another object of the bucket; AWS S3 refuses such requests itself. Grant the right, or set "refuseCopies": false to stop this warning.',
    );
  }
}
