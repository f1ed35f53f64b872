import type http from 'node:http';
import path from 'node:path';
import { Server as TusServer } from '@tus/server';
import { ERRORS, Metadata } from '@tus/utils';
import type { Logger } from 'pino';
import { KEY_ID, mediaTypeEssence, type ValetClaims } from '../token/claims.js';
import { codeForStatus, ERROR_STATUS, ValetError } from '../token/errors.js';
import type { CorsPolicy } from '../wire/cors.js';
import { asValetError, type ErrorBody, renderError } from '../wire/errors.js';
import { type StoredObjectBody, type TusVersion, UPLOADS_PATH } from '../wire/storage-api.js';
import { extractToken, type KeyAccess } from './access.js';
import type { Commits } from './commits.js';
import { answerPreflight } from './cors.js';
import { type Exchange, header, methodNotAllowed } from './exchange.js';
import type { ObjectMeta } from './object-file.js';
import { checkPutStart, refuseIfExists } from './put-checks.js';
import type { FileStore } from './store.js';
import { Upload } from './upload-file.js';
import { ResumableStore, type UploadInfo, type UploadIntent, type Version } from './uploads.js';

const UPLOAD_METHODS = 'POST, HEAD, PATCH, DELETE';
const TUS_HEADERS =
  'Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Metadata, Upload-Offset, Upload-Checksum, X-HTTP-Method-Override';
const TUS_VERSION: TusVersion = '1.0.0';
/** tus 1.0: the Content-Type of every PATCH. */
const TUS_CHUNK_TYPE = 'application/offset+octet-stream';
/** Digests a tus client may send in `Upload-Checksum` (checksum extension). */
const CHECKSUM_ALGORITHMS = ['sha256', 'sha1', 'md5'];

/** What the bridge needs of storage. */
export interface TusBridgeOptions {
  dataDir: string;
  store: FileStore;
  access: KeyAccess;
  commits: Commits;
  cors: CorsPolicy;
  log: Logger;
  now: () => number;
  /** How long an unfinished upload lives, ms. */
  lifetime: number;
}

/** One tus request: the exchange it belongs to, and what storage checked about it. */
interface TusRequest {
  exchange: Exchange;
  intent: UploadIntent;
}

/**
 * Resumable uploads (tus 1.0) at `/uploads`, through `@tus/server` with Valet's data store
 * (`uploads.ts`). The valet key is checked here, before tus sees the request: creation needs a
 * `resumable` put key and an `Upload-Length` within its limits; every later request needs a put
 * key bound to that upload (the creating key itself, or a renewed key with `upload: <id>`) for
 * the same object and subject. What was checked travels with the request as its
 * {@link UploadIntent}; a finished upload is committed like a PUT.
 */
export class TusBridge {
  readonly #o: TusBridgeOptions;
  readonly #uploads: ResumableStore;
  readonly #tus: TusServer;
  // The state of each request handed to @tus/server, by the web Request tus hands back.
  readonly #requests = new WeakMap<Request, TusRequest>();
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(options: TusBridgeOptions) {
    this.#o = options;
    this.#uploads = new ResumableStore(path.join(options.dataDir, 'uploads'), {
      now: options.now,
      lifetime: options.lifetime,
      hooks: {
        commit: (info, file, sha256) => this.#commitUpload(info, file, sha256),
        committedVersion: async (info) => {
          const meta = await options.commits.metaOf(info.object);
          return meta?.keyId === info.id ? { sha256: meta.sha256, etag: meta.etag } : undefined;
        },
      },
    });
    this.#tus = new TusServer({
      path: UPLOADS_PATH,
      datastore: this.#uploads,
      namingFunction: (req) => this.#state(req).intent.id,
      allowedOrigins: (origin) => options.cors.allows(origin),
      // Beyond @tus/server's own list: the upload's expiry (creation extension) and ours.
      exposedHeaders: ['Upload-Expires', 'X-Request-Id', 'ETag'],
      disableTerminationForFinishedUploads: true,
      onUploadFinish: async (req, upload) => this.#finished(req, upload.id),
      onResponseError: (req, error) => this.#tusError(this.#state(req).exchange, error),
    });
  }

  /** Prepares the upload store (finishing what a crash left) and starts removing expired uploads. */
  async start(): Promise<void> {
    const recovered = await this.#uploads.init((upload, error) =>
      this.#o.log.warn({ upload, err: error }, 'could not finish a resumable upload left by a crash'),
    );
    if (recovered.length > 0)
      this.#o.log.info({ uploads: recovered }, 'finished resumable uploads left by a crash');
    await this.#expire();
    this.#expiryTimer = setInterval(() => void this.#expire(), 60_000);
    this.#expiryTimer.unref();
  }

  stop(): void {
    clearInterval(this.#expiryTimer);
  }

  async #expire(): Promise<void> {
    try {
      const removed = await this.#tus.cleanUpExpiredUploads();
      if (removed > 0) this.#o.log.info({ removed }, 'removed expired resumable uploads');
    } catch (error) {
      this.#o.log.warn({ err: error }, 'could not remove expired resumable uploads');
    }
  }

  /** A request for `/uploads` (`id` empty) or `/uploads/<id>`. */
  async serve(ex: Exchange, id: string, rawQuery: string, expectContinue: boolean): Promise<void> {
    const { req, res } = ex;
    const method = req.method ?? '';
    if (method === 'OPTIONS') {
      if (answerPreflight(this.#o.cors, req, res, { methods: UPLOAD_METHODS, allowHeaders: TUS_HEADERS }))
        return;
      res.setHeader('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
      return this.#handle(ex, { id: '' });
    }
    const creation = id === '';
    if (creation ? method !== 'POST' : !['HEAD', 'PATCH', 'DELETE'].includes(method)) {
      throw methodNotAllowed(res, creation ? 'POST, OPTIONS' : 'HEAD, PATCH, DELETE, OPTIONS');
    }
    if (!creation && !KEY_ID.test(id)) throw new ValetError('not_found', 'no such upload');
    checkTusRequest(req, res);
    const { claims, kid } = await this.#o.access.verify(extractToken(req, rawQuery));
    ex.claims = claims;
    if (res.headersSent || req.destroyed) return;
    if (claims.op !== 'put')
      throw new ValetError('scope_mismatch', `the valet key is for ${claims.op}, not put`);
    const intent: UploadIntent = creation
      ? { id: claims.jti, creation: await this.#checkCreation(req, claims) }
      : { id: await this.#checkContinuation(claims, kid, id) };
    const checksum = chunkChecksum(req);
    if (checksum) intent.checksum = checksum;
    if (expectContinue) res.writeContinue();
    await this.#handle(ex, intent);
  }

  /** A later request of upload `id`: the key must be bound to it, for its object and subject. */
  async #checkContinuation(claims: ValetClaims, kid: string, id: string): Promise<string> {
    if (!((claims.resumable && claims.jti === id) || claims.upload === id)) {
      throw new ValetError('scope_mismatch', 'the valet key is for another upload');
    }
    const info = await this.#uploads.info(id);
    if (!info) throw new ValetError('not_found', 'no such upload');
    if (info.object !== claims.obj || info.subject !== claims.sub) {
      throw new ValetError('scope_mismatch', 'the valet key is for another upload');
    }
    // Revoking the key that created an upload stops the renewed keys of that upload too.
    this.#o.access.checkRevoked({ ...claims, jti: id }, kid);
    return id;
  }

  /** Checks a tus creation against the creating key, and uses the key up; returns the upload's scope. */
  async #checkCreation(req: http.IncomingMessage, claims: ValetClaims): Promise<UploadInfo> {
    if (!claims.resumable)
      throw new ValetError('scope_mismatch', 'this valet key cannot create a resumable upload');
    const lengthHeader = header(req, 'upload-length');
    if (lengthHeader === undefined || !/^\d{1,16}$/.test(lengthHeader)) {
      throw new ValetError('bad_request', 'a resumable upload needs its total size in Upload-Length');
    }
    if (req.headers['upload-concat'] !== undefined) {
      throw new ValetError('bad_request', 'concatenated (parallel) uploads are not supported');
    }
    const size = Number(lengthHeader);
    const metadata = uploadMetadata(req);
    const declaredType = metadata.filetype ?? metadata.contentType ?? metadata.content_type ?? undefined;
    checkPutStart(claims, declaredType ?? undefined, "the upload's file type is not a media type", size);
    await refuseIfExists(this.#o.store, claims);
    // One upload per creating key: its id is the key's jti, recorded before the upload exists.
    this.#o.access.use(claims.jti, claims.exp, 'this valet key has already created its upload');
    const created = this.#o.now();
    return {
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
  }

  /**
   * Hands a request to `@tus/server` as a web Request whose body stream passes the Node
   * request's buffers on as they are (srvx's adapter copies every chunk, which cost a resumable
   * upload about a third more CPU than a PUT), then writes tus's answer.
   */
  async #handle(ex: Exchange, intent: UploadIntent): Promise<void> {
    const { req, res } = ex;
    const request = webRequest(req, (bytes) => {
      ex.bytesIn += bytes;
    });
    this.#requests.set(request, { exchange: ex, intent });
    const response = await this.#uploads.during(intent, () => this.#tus.handleWeb(request));
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

  #state(request: unknown): TusRequest {
    const state = this.#requests.get(request as Request);
    if (!state) throw new ValetError('internal_error', 'an upload request was not checked');
    return state;
  }

  /** The answer to the request that finished an upload: the stored object (a PATCH's as 200). */
  async #finished(req: Request, id: string) {
    // Reading the upload finishes it if it is not yet (an empty upload, complete at creation).
    await this.#uploads.getUpload(id);
    const info = await this.#uploads.info(id);
    if (!info?.done) throw new ValetError('internal_error', 'the upload finished but was not stored');
    const body: StoredObjectBody = {
      object: info.object,
      size: info.size,
      content_type: info.contentType,
      sha256: info.done.sha256,
      etag: info.done.etag,
      upload: info.id,
      ...(info.done.receipt && { receipt: info.done.receipt }),
    };
    return {
      ...(req.method !== 'POST' && { status_code: 200 }),
      headers: { 'Content-Type': 'application/json; charset=utf-8', ETag: info.done.etag },
      body: JSON.stringify(body),
    };
  }

  /** Makes a complete resumable upload the object: the same guarantees as a single PUT. */
  async #commitUpload(info: UploadInfo, file: string, sha256: string): Promise<Version> {
    const meta: ObjectMeta = {
      key: info.object,
      size: info.size,
      contentType: info.contentType,
      sha256,
      etag: `"${sha256}"`,
      created: this.#o.now(),
      subject: info.subject,
      keyId: info.id,
    };
    const { receipt } = await this.#o.commits.commitVersion(await Upload.reopen(file), meta, {
      noOverwrite: info.noOverwrite,
    });
    this.#o.log.info({ upload: info.id, object: info.object, size: info.size }, 'resumable upload stored');
    return { sha256, etag: meta.etag, ...(receipt && { receipt }) };
  }

  /** A tus refusal as Valet's JSON error, with a stable code. */
  #tusError(ex: Exchange, error: unknown): { status_code: number; body: string } {
    const failure = !isTusError(error)
      ? asValetError(error, 'storage failed to handle the upload')
      : error.body === ERRORS.INVALID_TERMINATION.body
        ? // A finished upload is committed: there is nothing left to terminate.
          new ValetError('upload_gone', 'this upload is finished; delete the object with a delete key')
        : new ValetError(
            codeForStatus(error.status_code),
            error.body.trim() || 'the upload request was refused',
          );
    ex.code = failure.code;
    if (failure.status >= 500)
      this.#o.log.error({ reqId: ex.id, err: failure.cause ?? error }, 'upload failed');
    return { status_code: failure.status, body: JSON.stringify(failure.toJSON()) };
  }
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

/** `Upload-Checksum` of a PATCH (checksum extension), at its `Upload-Offset`. */
function chunkChecksum(req: http.IncomingMessage): UploadIntent['checksum'] {
  const checksum = header(req, 'upload-checksum');
  if (checksum === undefined) return undefined;
  const match = /^([a-z0-9]+) ([A-Za-z0-9+/]+={0,2})$/.exec(checksum.trim());
  if (!match || !CHECKSUM_ALGORITHMS.includes(match[1] as string)) {
    throw new ValetError(
      'bad_request',
      `Upload-Checksum must be "<${CHECKSUM_ALGORITHMS.join('|')}> <base64 digest>"`,
    );
  }
  const offset = req.method === 'PATCH' ? Number(header(req, 'upload-offset') ?? 'NaN') : 0;
  if (!Number.isSafeInteger(offset)) return undefined;
  return { offset, algorithm: match[1] as string, digest: match[2] as string };
}

function uploadMetadata(req: http.IncomingMessage): Record<string, string | null> {
  try {
    const raw = header(req, 'upload-metadata');
    return raw === undefined || raw.trim() === '' ? {} : Metadata.parse(raw);
  } catch {
    throw new ValetError('bad_request', 'the Upload-Metadata header is malformed');
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

/** The web Request tus gets: without the query (it may hold the key; tus reads the id from the path's end). */
function webRequest(req: http.IncomingMessage, onBytes: (bytes: number) => void): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  }
  const method = req.method ?? 'GET';
  const hasBody = method === 'PATCH' || method === 'POST';
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  return new Request(`http://${req.headers.host ?? 'localhost'}${q === -1 ? target : target.slice(0, q)}`, {
    method,
    headers,
    ...(hasBody && { body: nodeBody(req, onBytes), duplex: 'half' }),
  } as RequestInit);
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
