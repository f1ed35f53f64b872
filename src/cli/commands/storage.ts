import path from 'node:path';
import pino, { type Logger } from 'pino';
import { JwksSource } from '../../storage/access/key-source.js';
import { createStorageServer } from '../../storage/server.js';
import {
  type Command,
  many,
  optional,
  parseCount,
  parseDuration,
  parseLogLevel,
  parsePort,
  parseSize,
  parseWholeSeconds,
  required,
  UsageError,
} from '../args.js';
import { untilSignal } from '../lifecycle.js';
import { serveMetrics } from '../metrics-server.js';
import { readSecretFile } from '../secrets.js';

export const storage: Command = {
  name: 'storage',
  summary: 'run the storage server, which honours valet keys',
  help: `Usage: valet storage --data DIR --issuer URL --secret-file FILE [options]
       valet storage --data DIR --jwks FILE_OR_URL [--issuer URL --secret-file FILE] [options]
Options: [--host 127.0.0.1] [--port 9000] [--cors-origin ORIGIN]… [--clock-skew 60s]
         [--max-ttl 1h] [--idle-timeout 30s] [--min-rate 1KiB] [--min-rate-window 30s]
         [--headers-timeout 20s] [--max-connections N] [--max-connections-per-address N]
         [--download-buffers 64MiB] [--min-free-space SIZE] [--log-level info]
         [--revocation-max-staleness 5s]
         [--upload-lifetime 24h] [--no-journal] [--metrics | --metrics-port PORT]
         [--drain 30s] [--json]

Serves objects under DIR to requests that carry a valet key signed by a key the issuer publishes
(URL/.well-known/jwks.json, fetched again every minute and when a key names one it does not know,
and kept in DIR for a restart while the issuer is away; until a first set is fetched, every key
is answered 503), or by a key in the --jwks set.
Prints "valet storage listening on URL" on stdout once ready (with --json: {"url"}); JSON
logs go to stderr.
SIGTERM or SIGINT: graceful shutdown (stop accepting, let requests in flight finish for up to
--drain, cut the rest: resumable uploads resume from what arrived; checkpoint the journal). SIGHUP: reload the JWK set now (it is also re-read
every 5 s from a file, every 60 s from a URL, and when a token names an unknown key).

Options:
  --data DIR             data directory, created if missing (required)
  --jwks FILE_OR_URL     trusted public keys: a JWK set file or http(s) URL (default: the
                         issuer's, from --issuer)
  --host HOST            address to bind (default 127.0.0.1)
  --port PORT            port, 0 for any free port (default 9000)
  --cors-origin ORIGIN   browser origin allowed to call storage, or * (repeatable)
  --clock-skew DURATION  allowed clock skew (default 60s)
  --max-ttl DURATION     longest key lifetime accepted (default 1h)
  --idle-timeout DURATION  cut a connection idle this long (default 30s)
  --min-rate SIZE        the slowest a request body may arrive, bytes per second averaged
                         over each window, else 408 (default 1KiB; 0 turns it off)
  --min-rate-window DURATION  the window that rate is measured over (default 30s)
  --headers-timeout DURATION  time a connection has to send its request's headers, from its
                         start: one that sends none is answered 408 and closed (default 20s)
  --download-buffers SIZE
                         memory all downloads may hold in large (256 KiB) buffers at once;
                         past it, and for slow clients, they use 16 KiB ones (default 64MiB)
  --min-free-space SIZE  free space the data directory's disk must keep for /readyz to say
                         ready (default 5% of the disk, at most 1GiB)
  --max-connections N    connections admitted at once, past it 503 (default: what the file
                         descriptor limit allows after room for storage itself, 2 each)
  --max-connections-per-address N
                         connections admitted at once from one address (an IPv6 /64), past
                         it 429 (default a quarter of --max-connections; behind a reverse
                         proxy set it to --max-connections)
  --log-level LEVEL      fatal, error, warn, info, debug or silent (default info)
  --issuer URL           the issuer: poll its revocation list (URL/v1/revocations, every 1 s)
                         and send it signed completion events (URL/v1/events, retried);
                         repeat it (or separate URLs with commas) for an issuer's replicas:
                         any that answers will do
  --secret-file FILE     the secret shared with the issuer (required with --issuer)
  --revocation-max-staleness DURATION
                         for a key that carries no bound of its own (rules sign one in:
                         10 minutes by default), refuse it (503) when the revocation list
                         is older than this (default 5s); the list is kept in DIR
  --upload-lifetime DURATION
                         how long an unfinished resumable upload is kept (default 24h)
  --drain DURATION       on SIGTERM, how long requests in flight may take to finish before
                         they are cut (default 30s)
  --metrics              serve Prometheus metrics at /metrics on storage's port
  --metrics-port PORT    serve them on a port of their own instead (same host), e.g. for a
                         monitoring network only
  --no-journal           commit every upload with its own fsyncs, instead of small uploads
                         sharing one fsync through DIR/journal (group commit)
  --json                 print the ready line as JSON
  -h, --help             show this help`,
  options: {
    data: { type: 'string' },
    json: { type: 'boolean' },
    jwks: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'cors-origin': { type: 'string', multiple: true },
    'clock-skew': { type: 'string' },
    'max-ttl': { type: 'string' },
    'idle-timeout': { type: 'string' },
    'min-rate': { type: 'string' },
    'min-rate-window': { type: 'string' },
    'headers-timeout': { type: 'string' },
    'max-connections': { type: 'string' },
    'download-buffers': { type: 'string' },
    'min-free-space': { type: 'string' },
    'max-connections-per-address': { type: 'string' },
    'log-level': { type: 'string' },
    issuer: { type: 'string', multiple: true },
    'secret-file': { type: 'string' },
    'revocation-max-staleness': { type: 'string' },
    'upload-lifetime': { type: 'string' },
    'no-journal': { type: 'boolean' },
    metrics: { type: 'boolean' },
    drain: { type: 'string' },
    'metrics-port': { type: 'string' },
  },
  async run(values) {
    const dataDir = required(values, 'data');
    const jwksSpec = optional(values, 'jwks');
    const host = optional(values, 'host') ?? '127.0.0.1';
    const port = parsePort(optional(values, 'port') ?? '9000', '--port');
    const limits = limitsFrom(values);
    const level = parseLogLevel(optional(values, 'log-level') ?? 'info');

    const link = await issuerLink(values, jwksSpec);
    const logger = pino(
      { level, base: { service: 'valet-storage' } },
      pino.destination({ dest: 2, sync: false }),
    );
    const keys = await trustedKeys(jwksSpec, link.bases, dataDir, logger);
    const server = await createStorageServer({
      dataDir,
      keys,
      corsOrigins: many(values, 'cors-origin'),
      ...limits,
      ...(values['no-journal'] === true && { journal: false }),
      ...(values.metrics === true && { metrics: true }),
      logger,
      ...(link.secret !== undefined && issuerFeeds(link.bases, link.secret, link.maxStaleness)),
    });
    let url: string;
    try {
      url = await server.listen(port, host);
    } catch (error) {
      await server.close();
      keys.close();
      throw error;
    }
    // The data directory exists now: the trusted keys are kept in it from here on.
    await keys.keep();
    const metricsPort = optional(values, 'metrics-port');
    const metrics =
      metricsPort === undefined
        ? undefined
        : await serveMetrics(() => server.metrics(), parsePort(metricsPort, '--metrics-port'), host);
    if (metrics) logger.info({ metrics: metrics.url }, 'metrics served');
    logger.info({ url, kids: keys.kids }, 'storage listening');
    process.stdout.write(
      values.json ? `${JSON.stringify({ url })}\n` : `valet storage listening on ${url}\n`,
    );

    return untilSignal(
      async (signal) => {
        logger.info({ signal }, 'shutting down');
        keys.close();
        await metrics?.close();
        await server.close();
      },
      () => void keys.reload(),
      (error) => logger.error({ err: error }, 'shutdown failed'),
    );
  },
};

/**
 * The issuer storage works for, from `--issuer` (repeatable, or commas: replicas) and
 * `--secret-file`: its base URLs, the shared secret, and the revocation bound of keys without one.
 */
async function issuerLink(
  values: Record<string, unknown>,
  jwksSpec: string | undefined,
): Promise<{ bases: string[]; secret?: string; maxStaleness: number }> {
  const issuers = many(values, 'issuer').flatMap((v) => v.split(',').filter((u) => u !== ''));
  const secretFile = optional(values, 'secret-file');
  if ((issuers.length === 0) !== (secretFile === undefined)) {
    throw new UsageError('--issuer and --secret-file go together');
  }
  if (issuers.some((u) => !/^https?:\/\//.test(u))) throw new UsageError('--issuer must be an http(s) URL');
  if (jwksSpec === undefined && issuers.length === 0) {
    throw new UsageError('storage needs the issuer (--issuer URL --secret-file FILE) or a JWK set (--jwks)');
  }
  const staleness = parseDuration(
    optional(values, 'revocation-max-staleness') ?? '5s',
    '--revocation-max-staleness',
  );
  if (staleness < 0.1) throw new UsageError('--revocation-max-staleness must be at least 100ms');
  return {
    bases: issuers.map((u) => u.replace(/\/+$/, '')),
    ...(secretFile !== undefined && { secret: await readSecretFile(secretFile) }),
    maxStaleness: Math.round(staleness * 1000),
  };
}

/** The time and rate limits of `valet storage`, from its options. */
function limitsFrom(values: Record<string, unknown>) {
  const idleSeconds = parseDuration(optional(values, 'idle-timeout') ?? '30s', '--idle-timeout');
  if (idleSeconds < 0.1) throw new UsageError('--idle-timeout must be at least 100ms');
  const minRate = {
    bytesPerSecond: parseSize(optional(values, 'min-rate') ?? '1KiB', '--min-rate'),
    window: Math.round(
      parseDuration(optional(values, 'min-rate-window') ?? '30s', '--min-rate-window') * 1000,
    ),
  };
  if (minRate.window < 100) throw new UsageError('--min-rate-window must be at least 100ms');
  const headersSeconds = parseDuration(optional(values, 'headers-timeout') ?? '20s', '--headers-timeout');
  if (headersSeconds < 0.1) throw new UsageError('--headers-timeout must be at least 100ms');
  const maxConnections = optional(values, 'max-connections');
  const perAddress = optional(values, 'max-connections-per-address');
  const downloadBuffers = optional(values, 'download-buffers');
  const minFreeSpace = optional(values, 'min-free-space');
  const drain = parseDuration(optional(values, 'drain') ?? '30s', '--drain');
  return {
    shutdownGrace: Math.round(drain * 1000),
    ...(minFreeSpace !== undefined && { minFreeSpace: parseSize(minFreeSpace, '--min-free-space') }),
    ...(downloadBuffers !== undefined && {
      downloadBuffers: parseSize(downloadBuffers, '--download-buffers'),
    }),
    headersTimeout: Math.round(headersSeconds * 1000),
    ...(maxConnections !== undefined && {
      maxConnections: parseCount(maxConnections, '--max-connections'),
    }),
    ...(perAddress !== undefined && {
      maxConnectionsPerAddress: parseCount(perAddress, '--max-connections-per-address'),
    }),
    clockSkew: parseWholeSeconds(optional(values, 'clock-skew') ?? '60s', '--clock-skew', 0),
    maxLifetime: parseWholeSeconds(optional(values, 'max-ttl') ?? '1h', '--max-ttl'),
    idleTimeout: Math.round(idleSeconds * 1000),
    minRate,
    uploadLifetime: parseWholeSeconds(optional(values, 'upload-lifetime') ?? '24h', '--upload-lifetime'),
  };
}

/**
 * The keys storage trusts: a JWK set file or URL (`--jwks`), or else the keys the issuer
 * publishes (any replica), kept in DIR for a restart while it is away.
 */
function trustedKeys(
  jwksSpec: string | undefined,
  bases: string[],
  dataDir: string,
  logger: Logger,
): Promise<JwksSource> {
  return JwksSource.open(jwksSpec ?? bases.map((base) => `${base}/.well-known/jwks.json`), {
    logger,
    ...(jwksSpec === undefined && { cacheFile: path.join(dataDir, 'trusted-keys.json'), waitForKeys: true }),
  });
}

/** Storage's two links to the issuer (any replica): the revocation feed it polls, the events it sends. */
function issuerFeeds(bases: string[], secret: string, maxStaleness: number) {
  return {
    revocations: {
      url: bases.map((base) => `${base}/v1/revocations`),
      secret,
      maxStaleness,
    },
    events: { url: bases.map((base) => `${base}/v1/events`), secret },
  };
}
