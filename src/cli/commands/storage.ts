import pino from 'pino';
import { JwksSource } from '../../storage/key-source.js';
import { createStorageServer } from '../../storage/server.js';
import {
  type Command,
  many,
  optional,
  parseDuration,
  parseWholeSeconds,
  required,
  UsageError,
} from '../args.js';

export const storage: Command = {
  name: 'storage',
  summary: 'run the storage server, which honours valet keys',
  help: `Usage: valet storage --data DIR --jwks FILE_OR_URL [--host 127.0.0.1] [--port 9000]
                     [--cors-origin ORIGIN]… [--clock-skew 60s] [--max-ttl 1h]
                     [--idle-timeout 30s] [--log-level info]

Serves objects under DIR to requests that carry a valet key signed by a key in the JWK set.
Prints "valet storage listening on URL" on stdout once ready; JSON logs go to stderr.
SIGTERM or SIGINT: graceful shutdown. SIGHUP: reload the JWK set now (it is also re-read
every 5 s from a file, every 60 s from a URL, and when a token names an unknown key).

Options:
  --data DIR             data directory, created if missing (required)
  --jwks FILE_OR_URL     trusted public keys: a JWK set file or http(s) URL (required)
  --host HOST            address to bind (default 127.0.0.1)
  --port PORT            port, 0 for any free port (default 9000)
  --cors-origin ORIGIN   browser origin allowed to call storage, or * (repeatable)
  --clock-skew DURATION  allowed clock skew (default 60s)
  --max-ttl DURATION     longest key lifetime accepted (default 1h)
  --idle-timeout DURATION  cut a connection idle this long (default 30s)
  --log-level LEVEL      fatal, error, warn, info, debug or silent (default info)
  -h, --help             show this help`,
  options: {
    data: { type: 'string' },
    jwks: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'cors-origin': { type: 'string', multiple: true },
    'clock-skew': { type: 'string' },
    'max-ttl': { type: 'string' },
    'idle-timeout': { type: 'string' },
    'log-level': { type: 'string' },
  },
  async run(values) {
    const dataDir = required(values, 'data');
    const jwksSpec = required(values, 'jwks');
    const host = optional(values, 'host') ?? '127.0.0.1';
    const portText = optional(values, 'port') ?? '9000';
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535)
      throw new UsageError('--port must be a number from 0 to 65535');
    const clockSkew = parseWholeSeconds(optional(values, 'clock-skew') ?? '60s', '--clock-skew', 0);
    const maxLifetime = parseWholeSeconds(optional(values, 'max-ttl') ?? '1h', '--max-ttl');
    const idleSeconds = parseDuration(optional(values, 'idle-timeout') ?? '30s', '--idle-timeout');
    if (idleSeconds < 0.1) throw new UsageError('--idle-timeout must be at least 100ms');
    const level = optional(values, 'log-level') ?? 'info';
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
      throw new UsageError('--log-level must be fatal, error, warn, info, debug or silent');
    }

    const logger = pino(
      { level, base: { service: 'valet-storage' } },
      pino.destination({ dest: 2, sync: false }),
    );
    const keys = await JwksSource.open(jwksSpec, { logger });
    const server = await createStorageServer({
      dataDir,
      keys,
      corsOrigins: many(values, 'cors-origin'),
      clockSkew,
      maxLifetime,
      idleTimeout: Math.round(idleSeconds * 1000),
      logger,
    });
    let url: string;
    try {
      url = await server.listen(port, host);
    } catch (error) {
      await server.close();
      keys.close();
      throw error;
    }
    logger.info({ url, kids: keys.kids }, 'storage listening');
    process.stdout.write(`valet storage listening on ${url}\n`);

    return new Promise<number>((resolve) => {
      const stop = (signal: string) => {
        logger.info({ signal }, 'shutting down');
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        process.off('SIGHUP', onHup);
        keys.close();
        server.close().then(
          () => resolve(0),
          (error) => {
            logger.error({ err: error }, 'shutdown failed');
            resolve(1);
          },
        );
      };
      const onTerm = () => stop('SIGTERM');
      const onInt = () => stop('SIGINT');
      const onHup = () => void keys.reload();
      process.on('SIGTERM', onTerm);
      process.on('SIGINT', onInt);
      process.on('SIGHUP', onHup);
    });
  },
};
