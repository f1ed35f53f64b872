import type { Logger } from 'pino';
import { z } from 'zod';
import { ValetError } from '../token/errors.js';
import type { KeyResolver } from '../token/keys.js';
import type { SameKeys } from '../token/same-keys.js';
import { uploadLifetimeSchema } from '../wire/storage-api.js';
import type { RevocationFeedOptions } from './access/revocations.js';
import type { EventWebhookOptions } from './events/events.js';

/** Options for {@link createStorageServer}. */
export interface StorageServerOptions {
  /** Data directory (created if missing). Only one server may use it at a time. */
  dataDir: string;
  /** The trusted public keys (a `JwksSource`, a `TrustedKeys`, or any resolver by `kid`). */
  keys: KeyResolver;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Allowed clock skew in seconds. Default 60. */
  clockSkew?: number;
  /** Longest key lifetime accepted, in seconds. Default 3600. */
  maxLifetime?: number;
  /** Origins allowed to call storage from a browser: exact origins, or `*`. Default none. */
  corsOrigins?: readonly string[];
  /** A pino logger. Default: JSON lines on stderr at level `info`. */
  logger?: Logger;
  /** A connection with no bytes moving for this long (ms) is cut. Default 30 000. */
  idleTimeout?: number;
  /**
   * The slowest a request body may arrive, and a download be taken: fewer bytes than
   * `bytesPerSecond` on average over a `window` (ms) answers a body `408 request_timeout`, and
   * cuts a download. Default 1 KiB/s over 30 s; `bytesPerSecond: 0` turns it off.
   */
  minRate?: { bytesPerSecond: number; window: number };
  /**
   * Bytes of large (256 KiB) download buffers all downloads may hold at once; past it downloads
   * use 16 KiB buffers, which a slow client keeps anyway. Default 64 MiB.
   */
  downloadBuffers?: number;
  /**
   * Small uploads (up to 60 KiB) share fsyncs through the data directory's journal (group
   * commit, see journal.ts). Default true; false gives every upload its own fsyncs.
   */
  journal?: boolean;
  /**
   * Time allowed to receive a request's headers (ms), counted from the connection's start for
   * its first request: a connection that never sends one is answered 408 and closed. Default
   * 20 000.
   */
  headersTimeout?: number;
  /**
   * Connections admitted at once; past it a connection is answered `503 unavailable` and closed.
   * Default: what the process's descriptor limit allows after keeping room for storage itself
   * (two descriptors a connection; 8,808 at a limit of 20,000, 268 at 1,024).
   */
  maxConnections?: number;
  /**
   * Connections admitted at once from one client address (an IPv6 /64); past it a connection is
   * answered `429 too_many_connections`. Default a quarter of `maxConnections`. Behind a reverse
   * proxy every connection comes from the proxy: set it to `maxConnections`.
   */
  maxConnectionsPerAddress?: number;
  /** Largest request header section in bytes (URL included). Default 16 384. */
  maxHeaderSize?: number;
  /**
   * The least free space the data directory's file system must have for storage to say it is
   * ready (`/readyz` check `disk`), bytes. Default 5 % of the file system, at most 1 GiB.
   */
  minFreeSpace?: number;
  /**
   * Serve Prometheus metrics at `GET /metrics` on storage's port. Default false: they are read
   * with `StorageServer.metrics()` (the CLI's `--metrics-port` serves them on a port of their own).
   */
  metrics?: boolean;
  /**
   * On close, how long in-flight requests may take to finish (ms); the rest are cut (a resumable
   * upload resumes from what arrived). Default 30 000.
   */
  shutdownGrace?: number;
  /**
   * The issuer's revocation feed. When set, storage polls it and refuses revoked keys with
   * `403 token_revoked` (and every key with `503 unavailable` if the feed is stale). Default none.
   */
  revocations?: RevocationFeedOptions;
  /** The issuer's webhook for committed uploads and deletions (signed, retried). Default none. */
  events?: EventWebhookOptions;
  /** How long an unfinished resumable upload is kept, in seconds. Default 86 400 (a day). */
  uploadLifetime?: number;
}

/** One issuer URL, or the same endpoint on each of its replicas. */
const httpUrl = z.url({ protocol: /^https?$/ });
const issuerUrls = z.union([httpUrl, z.array(httpUrl).min(1)]);

const optionsSchema = z.object({
  dataDir: z.string().min(1),
  keys: z.custom<KeyResolver>(
    (v) => typeof (v as KeyResolver | undefined)?.get === 'function',
    'keys needs a get(kid)',
  ),
  now: z.function().optional(),
  clockSkew: z.number().int().min(0).max(3600).optional(),
  maxLifetime: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .optional(),
  corsOrigins: z.array(z.string()).optional(),
  logger: z.custom<Logger>().optional(),
  idleTimeout: z.number().int().min(100).optional(),
  minRate: z
    .object({ bytesPerSecond: z.number().int().min(0), window: z.number().int().min(100) })
    .strict()
    .optional(),
  journal: z.boolean().optional(),
  downloadBuffers: z.number().int().min(0).optional(),
  headersTimeout: z.number().int().min(100).optional(),
  maxConnections: z.number().int().min(1).optional(),
  maxConnectionsPerAddress: z.number().int().min(1).optional(),
  maxHeaderSize: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .optional(),
  shutdownGrace: z.number().int().min(0).optional(),
  minFreeSpace: z.number().int().min(0).optional(),
  metrics: z.boolean().optional(),
  uploadLifetime: uploadLifetimeSchema.optional(),
  revocations: z
    .object({
      url: issuerUrls,
      secret: z.string().min(32),
      interval: z.number().int().min(50).optional(),
      maxStaleness: z.number().int().min(100).optional(),
    })
    .optional(),
  events: z
    .object({
      url: issuerUrls,
      secret: z.string().min(32),
      retryDelay: z.number().int().min(1).optional(),
      maxRetryDelay: z.number().int().min(1).optional(),
      timeout: z.number().int().min(1).optional(),
    })
    .optional(),
});

// The options' type (its docs are the API's) and the schema that checks them name the same fields.
const optionKeysMatch: SameKeys<StorageServerOptions, z.input<typeof optionsSchema>> = true;
void optionKeysMatch;

/** Validates the options at construction: `invalid_options` with every problem named. */
export function validateStorageOptions(options: StorageServerOptions): void {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValetError('invalid_options', `invalid storage options: ${z.prettifyError(parsed.error)}`);
  }
}
