import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { ValetError } from '../token/errors.js';
import { DEFAULT_CLOCK_SKEW, DEFAULT_MAX_LIFETIME } from '../token/verify.js';
import { DEFAULT_UPLOAD_LIFETIME } from '../wire/storage-api.js';
import { KeyAccess } from './access/access.js';
import { DEFAULT_SEND_BUDGET, SendBudget } from './disk/send-file.js';
import { Commits } from './events/commits.js';
import { ConnectionGate, connectionLimits } from './http/connections.js';
import { applyCors, RefusedOrigins } from './http/cors.js';
import { type Exchange, failExchange, logExchange, parserRefusal, splitTarget } from './http/exchange.js';
import { DEFAULT_MIN_RATE, type MinRate, watchBodyRate } from './http/min-rate.js';
import { ObjectRoutes } from './http/objects.js';
import { TusBridge } from './http/tus.js';
import { StorageMetrics } from './metrics.js';
import { type StorageServerOptions, validateStorageOptions } from './options.js';
import { openParts, type Parts } from './parts.js';
import { storageChecks } from './readiness.js';
import { routeRequest, type StorageRoutes } from './routes.js';

export type { StorageServerOptions } from './options.js';

/** A running storage server. */
export interface StorageServer {
  /** The underlying Node server. */
  readonly httpServer: http.Server;
  /** The base URL once listening, e.g. `http://127.0.0.1:9000`. */
  readonly url: string;
  /** Polls the revocation feed now (no-op without one); rejects if the issuer cannot be reached. */
  refreshRevocations(): Promise<void>;
  /** The metrics, in Prometheus' text format, and its content type. */
  metrics(): Promise<{ contentType: string; text: string }>;
  /** Starts listening; resolves with the base URL. Port 0 picks a free port. */
  listen(port?: number, host?: string): Promise<string>;
  /**
   * Graceful shutdown: stops accepting, lets in-flight requests finish within the grace period,
   * cuts the rest (their uploads are discarded), then closes the ledger and releases the data
   * directory.
   */
  close(): Promise<void>;
}

/**
 * Creates Valet's object server: it serves `GET`/`HEAD`/`PUT`/`DELETE` on `/o/<object key>` for
 * requests that carry a valid valet key (query `vk` or `Authorization: Bearer`), resumable uploads
 * (tus 1.0) at `/uploads`, and `/healthz`.
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
  validateStorageOptions(options);
  const parts = await openParts(options);
  const storage = new Storage(options, parts);
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
  readonly #parts: Parts;
  readonly #log: Logger;
  readonly #refusedOrigins: RefusedOrigins;
  readonly #access: KeyAccess;
  readonly #routes: StorageRoutes;
  readonly #shutdownGrace: number;
  readonly #minRate: MinRate;
  readonly #active = new Map<Socket, Exchange>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #pruneTimer: NodeJS.Timeout;
  readonly #gate: ConnectionGate;
  readonly #metrics: StorageMetrics;
  #closing: Promise<void> | undefined;

  constructor(options: StorageServerOptions, parts: Parts) {
    this.#now = options.now ?? Date.now;
    this.#parts = parts;
    this.#log = parts.log;
    this.#refusedOrigins = new RefusedOrigins(parts.log);
    this.#shutdownGrace = options.shutdownGrace ?? 30_000;
    this.#minRate = options.minRate ?? DEFAULT_MIN_RATE;
    this.#access = new KeyAccess({
      keys: options.keys,
      now: this.#now,
      skew: options.clockSkew ?? DEFAULT_CLOCK_SKEW,
      maxLifetime: options.maxLifetime ?? DEFAULT_MAX_LIFETIME,
      feed: parts.feed,
      ledger: parts.ledger,
    });
    const commits = new Commits(parts.store, parts.outbox, parts.held, this.#now);
    const objects = new ObjectRoutes(parts.store, this.#access, commits, {
      now: this.#now,
      budget: new SendBudget(options.downloadBuffers ?? DEFAULT_SEND_BUDGET),
      minRate: this.#minRate,
    });
    const tus = new TusBridge({
      dataDir: parts.store.dir,
      store: parts.store,
      access: this.#access,
      commits,
      cors: parts.cors,
      log: parts.log,
      now: this.#now,
      lifetime: (options.uploadLifetime ?? DEFAULT_UPLOAD_LIFETIME) * 1000,
    });
    this.httpServer = this.#createHttpServer(options);
    this.#gate = new ConnectionGate(this.httpServer, connectionLimits(options, parts.log), parts.log);
    const checks = storageChecks({
      store: parts.store,
      gate: this.#gate,
      keys: options.keys,
      feed: parts.feed,
      minFreeSpace: options.minFreeSpace,
    });
    const metrics = options.metrics === true ? () => this.metrics() : undefined;
    this.#routes = { checks, metrics, tus, objects, cors: parts.cors };
    this.#metrics = new StorageMetrics({
      revocationAge: () => (parts.feed ? parts.feed.age / 1000 : undefined),
      eventsWaiting: () => parts.outbox?.pending,
      connections: () => this.#gate.open,
    });
    parts.store.observeJournal((seconds, records) => this.#metrics.flushed(seconds, records));
    this.#prune();
    this.#pruneTimer = setInterval(() => this.#prune(), 60_000);
    this.#pruneTimer.unref();
  }

  #createHttpServer(options: StorageServerOptions): http.Server {
    const server = http.createServer({
      maxHeaderSize: options.maxHeaderSize ?? 16_384,
      headersTimeout: options.headersTimeout ?? 20_000,
      // No limit on a whole request: a large upload may take hours. Stalls are cut by the idle timeout.
      requestTimeout: 0,
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 1_000,
      noDelay: true,
    });
    // A client that half-closes after its request (`nc -N`, some proxies) still gets its answer:
    // Node's default aborts such a request, after it was carried out (a single-use key spent).
    (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.setTimeout(options.idleTimeout ?? 30_000);
    server.on('request', (req, res) => this.#track(req, res, false));
    // Expect: 100-continue: refuse a bad upload before the client sends its body.
    server.on('checkContinue', (req, res) => this.#track(req, res, true));
    server.on('timeout', (socket: Socket) => this.#onTimeout(socket));
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) =>
      this.#onClientError(error, socket),
    );
    return server;
  }

  /** Prepares the resumable upload store and starts removing expired uploads. */
  start(): Promise<void> {
    return this.#routes.tus.start();
  }

  get url(): string {
    return this.#url;
  }

  refreshRevocations(): Promise<void> {
    return this.#parts.feed?.poll() ?? Promise.resolve();
  }

  async metrics(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.#metrics.contentType, text: await this.#metrics.text() };
  }

  listen(port = 9000, host = '127.0.0.1'): Promise<string> {
    // Revocations are polled from now on; until a poll succeeds every key is refused (fail closed).
    this.#parts.feed?.start();
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
    this.#routes.tus.stop();
    const { feed, outbox, ledger, held, store } = this.#parts;
    feed?.stop();
    await outbox?.close();
    ledger.close();
    held.close();
    await store.close();
    this.#log.info('storage stopped');
    this.#log.flush();
  }

  #prune(): void {
    try {
      this.#parts.ledger.prune(this.#now() / 1000);
    } catch (error) {
      this.#log.warn({ err: error }, 'could not prune the used-key ledger');
    }
  }

  #track(req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean): void {
    const ex: Exchange = { id: randomUUID(), req, res, started: performance.now(), bytesIn: 0, bytesOut: 0 };
    this.#active.set(req.socket, ex);
    const counted = this.#metrics.started(ex, splitTarget(req).path);
    res.on('close', () => {
      if (this.#active.get(req.socket) === ex) this.#active.delete(req.socket);
      logExchange(this.#log, ex);
      counted();
    });
    watchBodyRate(ex, this.#minRate, () =>
      this.#answerAndClose(
        ex,
        new ValetError('request_timeout', 'the body arrives slower than the minimum rate'),
      ),
    );
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
      applyCors(this.#parts.cors, req, res, this.#refusedOrigins);
      await routeRequest(ex, expectContinue, this.#routes);
    } catch (error) {
      this.#fail(ex, error);
    }
  }

  /** Answers with the error body, or cuts the connection if a response was already under way. */
  #fail(ex: Exchange, error: unknown): void {
    failExchange(this.#log, ex, error);
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
    const refusal = parserRefusal(error);
    this.#log.info({ code: refusal.code, parserError: error.code }, 'request refused by the HTTP parser');
    socket.end(refusal.raw);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
