import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { Server as TusServer } from '@tus/server';
import { Metadata } from '@tus/utils';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import {
  contentTypeAllowed,
  isMediaRange,
  KEY_ID,
  mediaTypeEssence,
  type Operation,
  type ValetClaims,
} from '../token/claims.js';
import { codeForStatus, ERROR_STATUS, type ErrorCode, ValetError } from '../token/errors.js';
import type { KeyResolver } from '../token/keys.js';
import { KEY_QUERY_PARAM, objectPath } from '../token/mint.js';
import { decodeObjectKeyPath } from '../token/object-key.js';
import { DEFAULT_CLOCK_SKEW, DEFAULT_MAX_LIFETIME, verifyValetKeyWithKey } from '../token/verify.js';
import type { CorsPolicy } from '../wire/cors.js';
import { asValetError, renderError, wantsHtml } from '../wire/errors.js';
import { contentDisposition, DOWNLOAD_CSP, defaultFilename, isInlineType } from '../wire/serving.js';
import type { ErrorBody, TusVersion } from '../wire/storage-api.js';
import { answerPreflight, applyCors, storageCors } from './cors.js';
import { EventOutbox, type EventWebhookOptions, type StorageEvent } from './events.js';
import { UsedKeyLedger } from './ledger.js';
import { parseRange } from './range.js';
import { RevocationFeed, type RevocationFeedOptions } from './revocations.js';
import { bodyTooLarge, bodyTooSmall, FileStore, type ObjectMeta, Upload } from './store.js';
import { ResumableStore, type UploadInfo } from './uploads.js';
import { VerifiedKeys } from './verified-keys.js';

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
  /** Time allowed to receive the request headers (ms). Default 20 000. */
  headersTimeout?: number;
  /** Largest request header section in bytes (URL included). Default 16 384. */
  maxHeaderSize?: number;
  /** On close, how long in-flight requests may take to finish (ms). Default 10 000. */
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
  headersTimeout: z.number().int().min(100).optional(),
  maxHeaderSize: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024)
    .optional(),
  shutdownGrace: z.number().int().min(0).optional(),
  uploadLifetime: z
    .number()
    .int()
    .min(1)
    .max(30 * 24 * 3600)
    .optional(),
  revocations: z
    .object({
      url: z.url({ protocol: /^https?$/ }),
      secret: z.string().min(32),
      interval: z.number().int().min(50).optional(),
      maxStaleness: z.number().int().min(100).optional(),
    })
    .optional(),
  events: z
    .object({
      url: z.url({ protocol: /^https?$/ }),
      secret: z.string().min(32),
      retryDelay: z.number().int().min(1).optional(),
      maxRetryDelay: z.number().int().min(1).optional(),
      timeout: z.number().int().min(1).optional(),
    })
    .optional(),
});

/** A running storage server. */
export interface StorageServer {
  /** The underlying Node server. */
  readonly httpServer: http.Server;
  /** The base URL once listening, e.g. `http://127.0.0.1:9000`. */
  readonly url: string;
  /** Polls the revocation feed now (no-op without one); rejects if the issuer cannot be reached. */
  refreshRevocations(): Promise<void>;
  /** Starts listening; resolves with the base URL. Port 0 picks a free port. */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Graceful shutdown: stops accepting, lets in-flight requests finish within the grace period,
   * cuts the rest (their uploads are discarded), then closes the ledger and releases the data
   * directory.
   */
  close(): Promise<void>;
}

const METHOD_OPS: Readonly<Record<string, Operation>> = {
  GET: 'get',
  HEAD: 'head',
  PUT: 'put',
  DELETE: 'delete',
};
const ALLOW = 'GET, HEAD, PUT, DELETE, OPTIONS';
/** Where resumable (tus 1.0) uploads live: `POST /uploads` creates one, `/uploads/<id>` continues it. */
export const UPLOADS_PATH = '/uploads';
const UPLOAD_METHODS = 'POST, HEAD, PATCH, DELETE';
const TUS_VERSION: TusVersion = '1.0.0';
/** tus 1.0: the Content-Type of every PATCH. */
const TUS_CHUNK_TYPE = 'application/offset+octet-stream';
const TUS_HEADERS =
  'Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Metadata, Upload-Offset, Upload-Checksum, X-HTTP-Method-Override';
/** Digests a tus client may send in `Upload-Checksum` (checksum extension). */
const CHECKSUM_ALGORITHMS = ['sha256', 'sha1', 'md5'];
// A Content-Type value: type/subtype, then optional parameters of printable ASCII.
const CONTENT_TYPE_PARAMS =
  /^(;\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+=("[\x20-\x7e]*"|[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*)*$/;

/** One request being served. */
interface Exchange {
  readonly id: string;
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly started: number;
  claims?: ValetClaims;
  code?: ErrorCode;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Creates Valet's object server: it serves `GET`/`HEAD`/`PUT`/`DELETE` on `/o/<object key>` for
 * requests that carry a valid valet key (query `vk` or `Authorization: Bearer`), and `/healthz`.
 *
 * The data path uses `node:http` streams directly rather than a web-standard `Request`, so that
 * uploads stream to disk with backpressure and no extra copies (see `docs/benchmarks.md`).
 *
 * @example
 * ```ts
 * const keys = await JwksSource.open('jwks.json')
 * const storage = await createStorageServer({ dataDir: './data', keys, corsOrigins: ['https://app.example'] })
 * console.log(await storage.listen(9000, '127.0.0.1'))
 * process.on('SIGTERM', () => storage.close())
 * ```
 */
export async function createStorageServer(options: StorageServerOptions): Promise<StorageServer> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ValetError('invalid_options', `invalid storage options: ${z.prettifyError(parsed.error)}`);
  }
  const cors = storageCors(options.corsOrigins ?? []);
  const logger = options.logger ?? pino({ base: { service: 'valet-storage' } }, pino.destination(2));
  const store = await FileStore.open(options.dataDir, {
    onSweep: (file) => logger.info({ file }, 'removed a temporary file left by an earlier run'),
  });
  const now = options.now ?? Date.now;
  let ledger: UsedKeyLedger | undefined;
  let outbox: EventOutbox | undefined;
  const feed = options.revocations && new RevocationFeed(options.revocations, logger, now);
  try {
    ledger = UsedKeyLedger.open(store.dir);
    if (options.events) {
      outbox = EventOutbox.open(store.dir, options.events, logger);
      await outbox.recover(async ({ type, object, key_id }) => {
        const found = await store.open(object);
        const keyId = found?.meta.keyId;
        await found?.close();
        return type === 'object.created' ? keyId === key_id : keyId !== key_id;
      });
      outbox.start();
    }
  } catch (error) {
    feed?.stop();
    await outbox?.close();
    ledger?.close();
    await store.close();
    throw error;
  }
  const storage = new Storage(options, cors, logger, store, ledger, outbox, feed);
  try {
    await storage.start();
  } catch (error) {
    await storage.close();
    throw error;
  }
  return storage;
}

class Storage implements StorageServer {
  readonly httpServer: http.Server;
  #url = '';
  readonly #now: () => number;
  readonly #skew: number;
  readonly #maxLifetime: number;
  readonly #log: Logger;
  readonly #cors: CorsPolicy;
  readonly #store: FileStore;
  readonly #ledger: UsedKeyLedger;
  readonly #outbox: EventOutbox | undefined;
  readonly #feed: RevocationFeed | undefined;
  readonly #keys: KeyResolver;
  readonly #shutdownGrace: number;
  // Single-use keys whose request is in progress: a concurrent use is refused at once.
  readonly #inUse = new Set<string>();
  readonly #verified = new VerifiedKeys();
  readonly #active = new Map<Socket, Exchange>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #pruneTimer: NodeJS.Timeout;
  readonly #uploads: ResumableStore;
  readonly #tus: TusServer;
  // The upload id a tus creation request will get (its checked key's jti).
  readonly #creating = new WeakMap<http.IncomingMessage, string>();
  // The Node request behind each web Request handed to @tus/server.
  readonly #tusRequests = new WeakMap<object, http.IncomingMessage>();
  readonly #exchanges = new WeakMap<http.IncomingMessage, Exchange>();
  #expiryTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    options: StorageServerOptions,
    cors: CorsPolicy,
    log: Logger,
    store: FileStore,
    ledger: UsedKeyLedger,
    outbox: EventOutbox | undefined,
    feed: RevocationFeed | undefined,
  ) {
    this.#now = options.now ?? Date.now;
    this.#skew = options.clockSkew ?? DEFAULT_CLOCK_SKEW;
    this.#maxLifetime = options.maxLifetime ?? DEFAULT_MAX_LIFETIME;
    this.#keys = options.keys;
    this.#log = log;
    this.#cors = cors;
    this.#store = store;
    this.#ledger = ledger;
    this.#outbox = outbox;
    this.#feed = feed;
    this.#shutdownGrace = options.shutdownGrace ?? 10_000;
    this.httpServer = http.createServer({
      maxHeaderSize: options.maxHeaderSize ?? 16_384,
      headersTimeout: options.headersTimeout ?? 20_000,
      // No limit on a whole request: a large upload may take hours. Stalls are cut by the idle timeout.
      requestTimeout: 0,
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 1_000,
      noDelay: true,
    });
    this.httpServer.setTimeout(options.idleTimeout ?? 30_000);
    this.httpServer.on('request', (req, res) => this.#track(req, res, false));
    // Expect: 100-continue: refuse a bad upload before the client sends its body.
    this.httpServer.on('checkContinue', (req, res) => this.#track(req, res, true));
    this.httpServer.on('timeout', (socket: Socket) => this.#onTimeout(socket));
    this.httpServer.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) =>
      this.#onClientError(error, socket),
    );
    this.#prune();
    this.#pruneTimer = setInterval(() => this.#prune(), 60_000);
    this.#pruneTimer.unref();
    this.#uploads = new ResumableStore(path.join(store.dir, 'uploads'), {
      now: this.#now,
      lifetime: (options.uploadLifetime ?? 86_400) * 1000,
      hooks: {
        commit: (info, file, sha256) => this.#commitUpload(info, file, sha256),
        committedVersion: async (info) => {
          const meta = await this.#metaOf(info.object);
          return meta?.keyId === info.id ? { sha256: meta.sha256, etag: meta.etag } : undefined;
        },
      },
    });
    this.#tus = new TusServer({
      path: UPLOADS_PATH,
      datastore: this.#uploads,
      namingFunction: (req) => {
        const id = this.#creating.get(this.#nodeRequest(req));
        if (id === undefined) throw new ValetError('internal_error', 'an upload creation was not checked');
        return id;
      },
      allowedOrigins: (origin) => this.#cors.allows(origin),
      exposedHeaders: ['X-Request-Id', 'ETag'],
      disableTerminationForFinishedUploads: true,
      onUploadFinish: async (req, upload) => {
        // Reading the upload finishes it if it is not yet (an empty upload, complete at creation).
        await this.#uploads.getUpload(upload.id);
        const info = await this.#uploads.info(upload.id);
        if (!info?.done) throw new ValetError('internal_error', 'the upload finished but was not stored');
        const creation = req.method === 'POST';
        return {
          ...(!creation && { status_code: 200 }),
          headers: { 'Content-Type': 'application/json; charset=utf-8', ETag: info.done.etag },
          body: JSON.stringify(describeUpload(info)),
        };
      },
      onResponseError: (req, error) => this.#tusError(this.#nodeRequest(req), error),
    });
  }

  /** Prepares the resumable upload store and starts removing expired uploads. */
  async start(): Promise<void> {
    const recovered = await this.#uploads.init((upload, error) =>
      this.#log.warn({ upload, err: error }, 'could not finish a resumable upload left by a crash'),
    );
    if (recovered.length > 0)
      this.#log.info({ uploads: recovered }, 'finished resumable uploads left by a crash');
    await this.#expireUploads();
    this.#expiryTimer = setInterval(() => void this.#expireUploads(), 60_000);
    this.#expiryTimer.unref();
  }

  async #expireUploads(): Promise<void> {
    try {
      const removed = await this.#tus.cleanUpExpiredUploads();
      if (removed > 0) this.#log.info({ removed }, 'removed expired resumable uploads');
    } catch (error) {
      this.#log.warn({ err: error }, 'could not remove expired resumable uploads');
    }
  }

  get url(): string {
    return this.#url;
  }

  refreshRevocations(): Promise<void> {
    return this.#feed?.poll() ?? Promise.resolve();
  }

  listen(port = 9000, host = '127.0.0.1'): Promise<string> {
    // Revocations are polled from now on; until a poll succeeds every key is refused (fail closed).
    this.#feed?.start();
    return new Promise((resolve, reject) => {
      this.httpServer.once('error', reject);
      this.httpServer.listen(port, host, () => {
        this.httpServer.off('error', reject);
        const address = this.httpServer.address() as AddressInfo;
        const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        this.#url = `http://${shownHost}:${address.port}`;
        resolve(this.#url);
      });
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
    this.httpServer.closeIdleConnections();
    const deadline = Date.now() + this.#shutdownGrace;
    while (this.#active.size > 0 && Date.now() < deadline) await sleep(25);
    this.httpServer.closeAllConnections();
    await closed;
    await Promise.allSettled([...this.#handlers]);
    clearInterval(this.#pruneTimer);
    clearInterval(this.#expiryTimer);
    this.#feed?.stop();
    await this.#outbox?.close();
    this.#ledger.close();
    await this.#store.close();
    this.#log.info('storage stopped');
    this.#log.flush();
  }

  #prune(): void {
    try {
      this.#ledger.prune(this.#now() / 1000);
    } catch (error) {
      this.#log.warn({ err: error }, 'could not prune the used-key ledger');
    }
  }

  #track(req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean): void {
    const ex: Exchange = { id: randomUUID(), req, res, started: performance.now(), bytesIn: 0, bytesOut: 0 };
    this.#active.set(req.socket, ex);
    this.#exchanges.set(req, ex);
    res.on('close', () => {
      if (this.#active.get(req.socket) === ex) this.#active.delete(req.socket);
      this.#logExchange(ex);
    });
    const handler = this.#handle(ex, expectContinue);
    this.#handlers.add(handler);
    void handler.finally(() => this.#handlers.delete(handler));
  }

  async #handle(ex: Exchange, expectContinue: boolean): Promise<void> {
    const { req, res } = ex;
    res.setHeader('X-Request-Id', ex.id);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    try {
      if (this.#closing) {
        res.shouldKeepAlive = false;
        throw new ValetError('unavailable', 'storage is shutting down');
      }
      applyCors(this.#cors, req, res);
      await this.#route(ex, expectContinue);
    } catch (error) {
      this.#fail(ex, error);
    }
  }

  async #route(ex: Exchange, expectContinue: boolean): Promise<void> {
    const { req, res } = ex;
    const target = req.url ?? '';
    if (!target.startsWith('/')) throw new ValetError('bad_request', 'the request target must be a path');
    const q = target.indexOf('?');
    const rawPath = q === -1 ? target : target.slice(0, q);
    const rawQuery = q === -1 ? '' : target.slice(q + 1);
    const method = req.method ?? '';

    if (rawPath === '/healthz') {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(res, 'GET, HEAD');
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (rawPath === UPLOADS_PATH || rawPath.startsWith(`${UPLOADS_PATH}/`)) {
      await this.#resumable(ex, rawPath.slice(UPLOADS_PATH.length + 1), rawQuery, expectContinue);
      return;
    }
    if (!rawPath.startsWith('/o/')) throw new ValetError('not_found', 'no such route');
    if (method === 'OPTIONS') {
      if (!answerPreflight(this.#cors, req, res)) {
        res.setHeader('Allow', ALLOW);
        res.writeHead(204).end();
      }
      return;
    }
    const op = METHOD_OPS[method];
    if (!op) throw methodNotAllowed(res, ALLOW);

    const objectKey = decodeObjectKeyPath(rawPath.slice(3));
    const token = extractToken(req, rawQuery);
    const { claims } = await this.#verify(token);
    ex.claims = claims;
    // Answered meanwhile (idle timeout, or the client half-closed mid-body): nothing left to do.
    if (res.headersSent || req.destroyed) return;
    if (claims.op !== op)
      throw new ValetError('scope_mismatch', `the valet key is for ${claims.op}, not ${op}`);
    if (claims.obj !== objectKey)
      throw new ValetError('scope_mismatch', 'the valet key is for another object');
    if (claims.resumable || claims.upload !== undefined) {
      throw new ValetError('scope_mismatch', `the valet key is for a resumable upload at ${UPLOADS_PATH}`);
    }

    if (claims.once) this.#reserve(claims);
    try {
      if (op === 'put') await this.#put(ex, claims, expectContinue);
      else if (op === 'delete') await this.#delete(ex, claims);
      else await this.#read(ex, claims, op === 'head');
    } finally {
      if (claims.once) this.#inUse.delete(claims.jti);
    }
  }

  /**
   * Verifies a valet key (or recalls that this exact token verified and is still valid), then
   * checks it against the revocation list.
   */
  async #verify(token: string): Promise<{ claims: ValetClaims; kid: string }> {
    let known = this.#verified.get(token, this.#keys, this.#now() / 1000, this.#skew);
    if (!known) {
      const { claims, kid, key } = await verifyValetKeyWithKey(token, {
        keys: this.#keys,
        now: this.#now,
        clockSkew: this.#skew,
        maxLifetime: this.#maxLifetime,
      });
      this.#verified.set(token, claims, kid, key);
      known = { claims, kid };
    }
    this.#feed?.check(known.claims, known.kid);
    return known;
  }

  /**
   * A tus request (`/uploads[/<id>]`). The valet key is checked here, before `@tus/server` sees
   * the request: creation needs a `resumable` put key and an `Upload-Length` within its limits;
   * every later request needs a put key bound to that upload (the creating key itself, or a
   * renewed key with `upload: <id>`) for the same object and subject.
   */
  async #resumable(ex: Exchange, id: string, rawQuery: string, expectContinue: boolean): Promise<void> {
    const { req, res } = ex;
    const method = req.method ?? '';
    if (
      method === 'OPTIONS' &&
      answerPreflight(this.#cors, req, res, { methods: UPLOAD_METHODS, allowHeaders: TUS_HEADERS })
    )
      return;
    if (method === 'OPTIONS') {
      res.setHeader('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
      await this.#handleTus(req, res);
      return;
    }
    const creation = id === '';
    if (creation ? method !== 'POST' : !['HEAD', 'PATCH', 'DELETE'].includes(method)) {
      throw methodNotAllowed(res, creation ? 'POST, OPTIONS' : 'HEAD, PATCH, DELETE, OPTIONS');
    }
    if (!creation && !KEY_ID.test(id)) throw new ValetError('not_found', 'no such upload');
    checkTusRequest(req, res);
    const { claims, kid } = await this.#verify(extractToken(req, rawQuery));
    ex.claims = claims;
    if (res.headersSent || req.destroyed) return;
    if (claims.op !== 'put')
      throw new ValetError('scope_mismatch', `the valet key is for ${claims.op}, not put`);
    if (creation) {
      if (!claims.resumable) {
        throw new ValetError('scope_mismatch', 'this valet key cannot create a resumable upload');
      }
      await this.#checkCreation(ex, claims);
    } else {
      if (!((claims.resumable && claims.jti === id) || claims.upload === id)) {
        throw new ValetError('scope_mismatch', 'the valet key is for another upload');
      }
      const info = await this.#uploads.info(id);
      if (!info) throw new ValetError('not_found', 'no such upload');
      if (info.object !== claims.obj || info.subject !== claims.sub) {
        throw new ValetError('scope_mismatch', 'the valet key is for another upload');
      }
      // Revoking the key that created an upload stops the renewed keys of that upload too.
      this.#feed?.check({ ...claims, jti: id }, kid);
    }
    const uploadId = creation ? claims.jti : id;
    const offset = method === 'PATCH' ? Number(header(req, 'upload-offset') ?? 'NaN') : 0;
    const checksum = header(req, 'upload-checksum');
    if (checksum !== undefined) {
      const match = /^([a-z0-9]+) ([A-Za-z0-9+/]+={0,2})$/.exec(checksum.trim());
      if (!match || !CHECKSUM_ALGORITHMS.includes(match[1] as string)) {
        throw new ValetError(
          'bad_request',
          `Upload-Checksum must be "<${CHECKSUM_ALGORITHMS.join('|')}> <base64 digest>"`,
        );
      }
      if (Number.isSafeInteger(offset)) {
        this.#uploads.expectChecksum(uploadId, offset, match[1] as string, match[2] as string);
      }
    }
    if (expectContinue) res.writeContinue();
    try {
      await this.#handleTus(req, res);
    } finally {
      if (creation) this.#uploads.unexpect(claims.jti);
      if (checksum !== undefined) this.#uploads.forgetChecksum(uploadId, offset);
    }
  }

  /**
   * Hands a request to `@tus/server` as a web Request whose body stream passes the Node
   * request's buffers on as they are (srvx's adapter copies every chunk, which cost a resumable
   * upload about a third more CPU than a PUT), then writes tus's answer.
   */
  async #handleTus(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const headers = new Headers();
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
    }
    const method = req.method ?? 'GET';
    const hasBody = method === 'PATCH' || method === 'POST';
    // Without the query: it may hold the valet key (checked already), and tus reads the upload id
    // from the end of the URL.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const request = new Request(
      `http://${req.headers.host ?? 'localhost'}${q === -1 ? target : target.slice(0, q)}`,
      {
        method,
        headers,
        ...(hasBody && {
          body: nodeBody(req, (bytes) => {
            const ex = this.#exchanges.get(req);
            if (ex) ex.bytesIn += bytes;
          }),
          duplex: 'half',
        }),
      } as RequestInit,
    );
    this.#tusRequests.set(request, req);
    const response = await this.#tus.handleWeb(request);
    if (res.headersSent || res.destroyed) return;
    res.statusCode = response.status;
    for (const [name, value] of response.headers) res.setHeader(name, value);
    if (response.headers.get('connection') === 'close') res.shouldKeepAlive = false;
    if (response.status >= 400) {
      // Every refusal is Valet's JSON error, also those @tus/server writes as plain text.
      const rendered = tusRefusal(response.status, await response.text());
      for (const [name, value] of Object.entries(rendered.headers)) res.setHeader(name, value);
      res.setHeader('Content-Length', Buffer.byteLength(rendered.body));
      res.end(rendered.body);
      return;
    }
    res.end(response.body ? Buffer.from(await response.arrayBuffer()) : undefined);
  }

  /** Checks a tus creation against the creating key, and uses the key up. */
  async #checkCreation(ex: Exchange, claims: ValetClaims): Promise<void> {
    const { req } = ex;
    const lengthHeader = header(req, 'upload-length');
    if (lengthHeader === undefined || !/^\d{1,16}$/.test(lengthHeader)) {
      throw new ValetError('bad_request', 'a resumable upload needs its total size in Upload-Length');
    }
    if (req.headers['upload-concat'] !== undefined) {
      throw new ValetError('bad_request', 'concatenated (parallel) uploads are not supported');
    }
    const size = Number(lengthHeader);
    let metadata: Record<string, string | null>;
    try {
      const raw = header(req, 'upload-metadata');
      metadata = raw === undefined || raw.trim() === '' ? {} : Metadata.parse(raw);
    } catch {
      throw new ValetError('bad_request', 'the Upload-Metadata header is malformed');
    }
    const declaredType = metadata.filetype ?? metadata.contentType ?? metadata.content_type ?? undefined;
    checkPutStart(claims, declaredType ?? undefined, "the upload's file type is not a media type", size);
    await this.#refuseIfExists(claims);
    // One upload per creating key: its id is the key's jti, recorded before the upload exists.
    if (!this.#ledger.consume(claims.jti, claims.exp + this.#skew)) {
      throw new ValetError('token_replayed', 'this valet key has already created its upload');
    }
    const created = this.#now();
    const info: UploadInfo = {
      id: claims.jti,
      object: claims.obj,
      subject: claims.sub,
      size,
      contentType: declaredType?.trim() || 'application/octet-stream',
      ...(claims.sha256 !== undefined && { sha256: claims.sha256 }),
      noOverwrite: claims.no_overwrite === true,
      created,
      expires: created + this.#uploads.getExpiration(),
      metadata,
    };
    this.#uploads.expect(info);
    this.#creating.set(req, claims.jti);
  }

  /** Makes a complete resumable upload the object: the same guarantees as a single PUT. */
  async #commitUpload(
    info: UploadInfo,
    file: string,
    sha256: string,
  ): Promise<{ sha256: string; etag: string }> {
    const meta: ObjectMeta = {
      key: info.object,
      size: info.size,
      contentType: info.contentType,
      sha256,
      etag: `"${sha256}"`,
      created: this.#now(),
      subject: info.subject,
      keyId: info.id,
    };
    await this.#commitVersion(await Upload.reopen(file), meta, { noOverwrite: info.noOverwrite });
    this.#log.info({ upload: info.id, object: info.object, size: info.size }, 'resumable upload stored');
    return { sha256, etag: meta.etag };
  }

  #nodeRequest(request: unknown): http.IncomingMessage {
    const node = this.#tusRequests.get(request as object);
    if (!node) throw new ValetError('internal_error', 'the upload request has no Node request');
    return node;
  }

  /** A tus refusal as Valet's JSON error, with a stable code. */
  #tusError(req: http.IncomingMessage, error: unknown): { status_code: number; body: string } {
    let failure: ValetError;
    if (error instanceof ValetError) failure = error;
    else if (isTusError(error)) {
      failure = new ValetError(
        codeForStatus(error.status_code),
        error.body.trim() || 'the upload request was refused',
      );
    } else {
      failure = new ValetError('internal_error', 'storage failed to handle the upload', { cause: error });
    }
    const ex = this.#exchanges.get(req);
    if (ex) ex.code = failure.code;
    if (failure.status >= 500)
      this.#log.error({ reqId: ex?.id, err: failure.cause ?? error }, 'upload failed');
    return { status_code: failure.status, body: JSON.stringify(failure.toJSON()) };
  }

  /** Records an event before its change becomes visible (when a webhook is configured). */
  #prepareEvent(event: Omit<StorageEvent, 'id' | 'time'>): number | undefined {
    return this.#outbox?.prepare(event, this.#now());
  }

  /** After a commit attempt: deliver the event if the change is visible, else forget it. */
  #settleEvent(seq: number | undefined, landed: boolean): void {
    if (seq === undefined || !this.#outbox) return;
    if (landed) this.#outbox.publish(seq);
    else this.#outbox.cancel(seq);
  }

  /** Single use, step 1: refuse a key that was used or is in use right now. */
  #reserve(claims: ValetClaims): void {
    if (this.#inUse.has(claims.jti) || this.#ledger.has(claims.jti)) {
      throw new ValetError('token_replayed', 'this single-use valet key was already used');
    }
    this.#inUse.add(claims.jti);
  }

  /** Single use, step 2: record the use durably, before the effect becomes visible. */
  #consume(claims: ValetClaims): void {
    if (claims.once && !this.#ledger.consume(claims.jti, claims.exp + this.#skew)) {
      throw new ValetError('token_replayed', 'this single-use valet key was already used');
    }
  }

  async #put(ex: Exchange, claims: ValetClaims, expectContinue: boolean): Promise<void> {
    const { req, res } = ex;
    const contentType = req.headers['content-type'];
    // Node's parser has already refused a malformed Content-Length or one sent with chunked encoding.
    const declared =
      req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    const { maxSize, minSize } = checkPutStart(
      claims,
      contentType,
      'the Content-Type header is malformed',
      declared,
    );
    await this.#refuseIfExists(claims);

    if (expectContinue) res.writeContinue();
    const upload = await this.#store.beginUpload();
    try {
      const received = await upload.receive(req, { maxSize, declaredSize: declared });
      ex.bytesIn = received.size;
      if (minSize !== undefined && received.size < minSize) {
        throw bodyTooSmall(minSize);
      }
      if (claims.sha256 !== undefined && claims.sha256 !== received.sha256) {
        throw new ValetError('bad_digest', 'the body does not match the SHA-256 bound in the key');
      }
      const meta: ObjectMeta = {
        key: claims.obj,
        size: received.size,
        contentType: contentType?.trim() ?? 'application/octet-stream',
        sha256: received.sha256,
        etag: `"${received.sha256}"`,
        created: this.#now(),
        subject: claims.sub,
        keyId: claims.jti,
      };
      const noOverwrite = claims.no_overwrite === true;
      const created = await this.#commitVersion(upload, meta, {
        noOverwrite,
        // Whether to answer 201 or 200: looked up while the file is being synced.
        ...(!noOverwrite && { existed: this.#store.exists(claims.obj) }),
        consume: () => this.#consume(claims),
      });
      res.setHeader('ETag', meta.etag);
      res.setHeader('Last-Modified', new Date(meta.created).toUTCString());
      if (created) res.setHeader('Location', objectPath(meta.key));
      sendJson(res, created ? 201 : 200, describe(meta));
    } finally {
      await upload.discard();
    }
  }

  /** A create-only key refused up front when its object exists (the commit checks again). */
  async #refuseIfExists(claims: ValetClaims): Promise<void> {
    if (claims.no_overwrite && (await this.#store.exists(claims.obj))) {
      throw new ValetError('precondition_failed', 'the object already exists and the key is create-only');
    }
  }

  /**
   * Seals a received file as the version `meta` and commits it, with its event for the issuer
   * published exactly when the version is visible. `consume` (a single-use key) runs after the
   * file is durable and before it can be seen. Returns true if the object is new.
   */
  async #commitVersion(
    upload: Upload,
    meta: ObjectMeta,
    options: { noOverwrite: boolean; existed?: Promise<boolean>; consume?: () => void },
  ): Promise<boolean> {
    await upload.seal(meta);
    options.consume?.();
    const event = this.#prepareEvent({
      type: 'object.created',
      ...eventFields(meta, { jti: meta.keyId, sub: meta.subject }),
    });
    let created: boolean;
    try {
      created = await this.#store.commit(upload, meta.key, {
        noOverwrite: options.noOverwrite,
        ...(options.existed && { existed: options.existed }),
      });
    } catch (error) {
      // A commit can fail after its rename (the directory fsync): then the version is visible.
      if (event !== undefined) this.#settleEvent(event, (await this.#metaOf(meta.key))?.keyId === meta.keyId);
      throw error;
    }
    this.#settleEvent(event, true);
    return created;
  }

  async #delete(ex: Exchange, claims: ValetClaims): Promise<void> {
    const meta = await this.#metaOf(claims.obj);
    if (!meta) throw new ValetError('not_found', 'no such object');
    this.#consume(claims);
    const event = this.#prepareEvent({
      type: 'object.deleted',
      ...eventFields(meta, claims),
      version_key_id: meta.keyId,
    });
    let deleted = false;
    try {
      deleted = await this.#store.delete(claims.obj);
    } finally {
      this.#settleEvent(event, deleted);
    }
    if (!deleted) throw new ValetError('not_found', 'no such object');
    ex.res.writeHead(204).end();
  }

  /** The metadata of an object's current version, if any. */
  async #metaOf(key: string): Promise<ObjectMeta | undefined> {
    const found = await this.#store.open(key);
    await found?.close();
    return found?.meta;
  }

  async #read(ex: Exchange, claims: ValetClaims, headOnly: boolean): Promise<void> {
    const { req, res } = ex;
    const object = await this.#store.open(claims.obj);
    if (!object) throw new ValetError('not_found', 'no such object');
    let streaming = false;
    try {
      const { meta } = object;
      res.setHeader('ETag', meta.etag);
      res.setHeader('Last-Modified', new Date(meta.created).toUTCString());
      res.setHeader('Cache-Control', 'private, no-store');
      res.setHeader('Accept-Ranges', 'bytes');
      if (notModified(req, meta)) {
        res.writeHead(304).end();
        return;
      }
      const range = ifRangeHolds(req, meta)
        ? parseRange(req.headers.range, meta.size)
        : { kind: 'full' as const };
      if (range.kind === 'unsatisfiable') {
        res.setHeader('Content-Range', `bytes */${meta.size}`);
        throw new ValetError('invalid_range', `the range is outside the object's ${meta.size} bytes`);
      }
      const start = range.kind === 'partial' ? range.start : 0;
      const end = range.kind === 'partial' ? range.end : meta.size - 1;
      const length = end - start + 1;
      this.#consume(claims);

      const inline = claims.inline ?? isInlineType(meta.contentType);
      res.setHeader('Content-Type', meta.contentType);
      res.setHeader(
        'Content-Disposition',
        contentDisposition(inline ? 'inline' : 'attachment', claims.filename ?? defaultFilename(meta.key)),
      );
      res.setHeader('Content-Security-Policy', DOWNLOAD_CSP);
      res.setHeader('Content-Length', length);
      if (range.kind === 'partial') res.setHeader('Content-Range', `bytes ${start}-${end}/${meta.size}`);
      res.statusCode = range.kind === 'partial' ? 206 : 200;
      if (headOnly || length === 0) {
        res.end();
        return;
      }
      ex.bytesOut = length;
      if (end < object.head.length) {
        res.end(object.head.subarray(start, end + 1));
        return;
      }
      streaming = true;
      // send() owns the fd from here and closes it, also when the client goes away.
      await object.send(res, start, end);
    } finally {
      if (!streaming) await object.close();
    }
  }

  /** Answers with the error body, or cuts the connection if a response was already under way. */
  #fail(ex: Exchange, error: unknown): void {
    const { req, res } = ex;
    const valetError = asValetError(error, 'storage failed to handle the request');
    ex.code ??= valetError.code;
    if (valetError.code === 'internal_error' || valetError.code === 'insufficient_storage') {
      this.#log.error({ reqId: ex.id, err: valetError.cause ?? valetError }, 'request failed');
    } else if (valetError.cause !== undefined) {
      this.#log.debug({ reqId: ex.id, code: valetError.code, err: valetError.cause }, 'request refused');
    }
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy();
      return;
    }
    // An unread request body is not drained: the connection closes after the answer.
    if (!req.complete) res.shouldKeepAlive = false;
    res.removeHeader('Content-Disposition');
    res.removeHeader('Content-Length');
    // A person who opened a link in a browser gets a readable page rather than raw JSON.
    const html = wantsHtml(req.headers.accept) && (req.method === 'GET' || req.method === 'HEAD');
    const rendered = renderError(valetError, { html });
    for (const [name, value] of Object.entries(rendered.headers)) res.setHeader(name, value);
    res.setHeader('Content-Length', Buffer.byteLength(rendered.body));
    res.writeHead(rendered.status).end(req.method === 'HEAD' ? undefined : rendered.body);
  }

  /**
   * Answers a request whose body will never complete, then destroys the request (and with it the
   * connection). Destroying the request, not just the socket, matters: once a response has
   * finished, Node detaches the request from the socket, and an upload still reading it would
   * otherwise never learn that the body is gone.
   */
  #answerAndClose(ex: Exchange, error: ValetError): void {
    ex.code = error.code;
    this.#fail(ex, error);
    ex.res.once('finish', () => ex.req.destroy());
    // If the answer cannot be flushed either, the connection goes anyway.
    setTimeout(() => {
      ex.req.destroy();
      ex.req.socket.destroy();
    }, 1_000).unref();
  }

  #onTimeout(socket: Socket): void {
    const ex = this.#active.get(socket);
    if (ex && !ex.res.headersSent) {
      this.#answerAndClose(ex, new ValetError('request_timeout', 'the connection was idle for too long'));
      return;
    }
    socket.destroy();
  }

  #onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
    const ex = this.#active.get(socket);
    if (ex && !ex.res.headersSent && error.code === 'HPE_INVALID_EOF_STATE') {
      // The client half-closed in the middle of the body: it sent less than its Content-Length.
      this.#answerAndClose(
        ex,
        new ValetError('incomplete_body', 'the body ended before its declared length'),
      );
      return;
    }
    if (ex || !socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const code: ErrorCode =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? 'headers_too_large'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'request_timeout'
          : 'bad_request';
    const rendered = renderError(
      new ValetError(code, code === 'bad_request' ? 'malformed HTTP request' : 'request refused'),
    );
    this.#log.info({ code, parserError: error.code }, 'request refused by the HTTP parser');
    const head = Object.entries({
      ...rendered.headers,
      'content-length': String(Buffer.byteLength(rendered.body)),
      connection: 'close',
    }).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.end(
      `HTTP/1.1 ${rendered.status} ${http.STATUS_CODES[rendered.status]}\r\n${head.join('')}\r\n${rendered.body}`,
    );
  }

  #logExchange(ex: Exchange): void {
    const { req, res, claims } = ex;
    const target = req.url ?? '';
    const q = target.indexOf('?');
    // Never the query string: it may hold a valet key.
    const path = (q === -1 ? target : target.slice(0, q)).slice(0, 2048);
    this.#log.info(
      {
        reqId: ex.id,
        method: req.method,
        path,
        status: res.statusCode,
        ...(ex.code && { code: ex.code }),
        ...(claims && { op: claims.op, sub: claims.sub, jti: claims.jti }),
        bytesIn: ex.bytesIn,
        bytesOut: ex.bytesOut,
        ms: Math.round((performance.now() - ex.started) * 10) / 10,
        ...(!res.writableFinished && { aborted: true }),
      },
      'request',
    );
  }
}

/** The valet key of a request: `?vk=` or `Authorization: Bearer`, exactly one of them. */
function extractToken(req: http.IncomingMessage, rawQuery: string): string {
  const fromQuery = rawQuery === '' ? [] : new URLSearchParams(rawQuery).getAll(KEY_QUERY_PARAM);
  if (fromQuery.length > 1) throw new ValetError('bad_request', `more than one ${KEY_QUERY_PARAM} parameter`);
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    if (fromQuery.length > 0)
      throw new ValetError('bad_request', 'a valet key in both the URL and the header');
    const match = /^Bearer +(\S+)$/i.exec(authorization);
    if (!match?.[1])
      throw new ValetError('token_invalid', 'the Authorization header must be "Bearer <valet key>"');
    return match[1];
  }
  const [token] = fromQuery;
  if (token === undefined || token === '')
    throw new ValetError('token_missing', 'this request needs a valet key');
  return token;
}

/**
 * What a put key allows that can be checked before any byte arrives: the content type (well
 * formed, and one the key allows) and the declared size against the key's limits. Returns the
 * size limits, which are enforced again while the bytes arrive.
 */
function checkPutStart(
  claims: ValetClaims,
  contentType: string | undefined,
  malformedType: string,
  declared: number | undefined,
): { maxSize: number | undefined; minSize: number | undefined } {
  if (contentType !== undefined && !validContentType(contentType)) {
    throw new ValetError('bad_request', malformedType);
  }
  if (
    claims.content_types &&
    (contentType === undefined || !contentTypeAllowed(contentType, claims.content_types))
  ) {
    throw new ValetError('unsupported_media_type', `the key allows only ${claims.content_types.join(', ')}`);
  }
  const maxSize = minDefined(claims.max_size, claims.size);
  const minSize = maxDefined(claims.min_size, claims.size);
  if (declared !== undefined && maxSize !== undefined && declared > maxSize) throw bodyTooLarge(maxSize);
  if (declared !== undefined && minSize !== undefined && declared < minSize) throw bodyTooSmall(minSize);
  return { maxSize, minSize };
}

function validContentType(value: string): boolean {
  if (value.length > 255) return false;
  const semi = value.indexOf(';');
  const essence = mediaTypeEssence(value);
  const params = semi === -1 ? '' : value.slice(semi).trim();
  return isMediaRange(essence) && !essence.endsWith('/*') && CONTENT_TYPE_PARAMS.test(params);
}

/** RFC 9110 §13.1.2 and §13.1.3: If-None-Match (weak comparison) wins over If-Modified-Since. */
function notModified(req: http.IncomingMessage, meta: ObjectMeta): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    return inm.split(',').some((tag) => tag.trim().replace(/^W\//, '') === meta.etag);
  }
  const ims = req.headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  return !Number.isNaN(since) && Math.floor(meta.created / 1000) <= Math.floor(since / 1000);
}

/** RFC 9110 §13.1.5: a Range applies only if If-Range (strong ETag or exact date) still matches. */
function ifRangeHolds(req: http.IncomingMessage, meta: ObjectMeta): boolean {
  const ifRange = req.headers['if-range'];
  if (ifRange === undefined) return true;
  const value = String(ifRange).trim();
  if (value.startsWith('"')) return value === meta.etag;
  if (value.startsWith('W/')) return false;
  return Date.parse(value) === Math.floor(meta.created / 1000) * 1000;
}

/**
 * tus 1.0 before @tus/server sees a request: every request but OPTIONS names the version
 * (`Tus-Resumable`; "If the version specified by the Client is not supported by the Server, it
 * MUST respond with the 412 Precondition Failed status and MUST include the Tus-Version header"),
 * and a PATCH sends `application/offset+octet-stream` ("otherwise the server SHOULD return a 415
 * Unsupported Media Type status").
 */
function checkTusRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (header(req, 'tus-resumable') !== TUS_VERSION) {
    res.setHeader('Tus-Version', TUS_VERSION);
    throw new ValetError('precondition_failed', `this server speaks tus ${TUS_VERSION} (Tus-Resumable)`);
  }
  if (req.method === 'PATCH' && mediaTypeEssence(header(req, 'content-type') ?? '') !== TUS_CHUNK_TYPE) {
    throw new ValetError('unsupported_media_type', `a PATCH sends its bytes as ${TUS_CHUNK_TYPE}`);
  }
}

/** A refusal @tus/server produced, as Valet's JSON error (its own text becomes the message). */
function tusRefusal(status: number, body: string) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const error = (parsed as Partial<ErrorBody> | undefined)?.error;
  const code = error && error.code in ERROR_STATUS ? error.code : codeForStatus(status);
  const message = error?.message ?? (body.trim() || 'the upload request was refused');
  return renderError(new ValetError(code, message));
}

/** A header that may appear once: its value, or undefined (a repeated one is refused). */
function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (Array.isArray(value)) throw new ValetError('bad_request', `more than one ${name} header`);
  return value;
}

/**
 * A Node request body as a web stream of its own buffers (no copy), read only as fast as it is
 * consumed; it errors if the client goes away before the end.
 */
function nodeBody(req: http.IncomingMessage, onBytes: (bytes: number) => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.on('data', (chunk: Buffer) => {
          onBytes(chunk.length);
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.on('end', () => controller.close());
        const cut = () => {
          if (!req.complete)
            controller.error(new ValetError('incomplete_body', 'the connection closed mid-body'));
        };
        req.on('error', cut);
        req.on('close', cut);
        req.pause();
      },
      pull() {
        req.resume();
      },
      cancel() {
        req.pause();
      },
    },
    { highWaterMark: 4 },
  );
}

function isTusError(error: unknown): error is { status_code: number; body: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status_code?: unknown }).status_code === 'number' &&
    typeof (error as { body?: unknown }).body === 'string'
  );
}

function describeUpload(info: UploadInfo) {
  return {
    object: info.object,
    size: info.size,
    content_type: info.contentType,
    sha256: info.done?.sha256 ?? '',
    etag: info.done?.etag ?? '',
    upload: info.id,
  };
}

/** What a storage event says about a version and the key that made the change. */
function eventFields(meta: ObjectMeta, claims: Pick<ValetClaims, 'jti' | 'sub'>) {
  return {
    object: meta.key,
    key_id: claims.jti,
    subject: claims.sub,
    size: meta.size,
    content_type: meta.contentType,
    sha256: meta.sha256,
    etag: meta.etag,
  };
}

function describe(meta: ObjectMeta) {
  return {
    object: meta.key,
    size: meta.size,
    content_type: meta.contentType,
    sha256: meta.sha256,
    etag: meta.etag,
    last_modified: new Date(meta.created).toISOString(),
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  if (status >= 400) res.setHeader('Cache-Control', 'no-store');
  res.end(json);
}

function methodNotAllowed(res: http.ServerResponse, allow: string): ValetError {
  res.setHeader('Allow', allow);
  return new ValetError('method_not_allowed', 'method not allowed on this path');
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
