import type http from 'node:http';
import path from 'node:path';
import { Server as TusServer } from '@tus/server';
import { ERRORS } from '@tus/utils';
import type { Logger } from 'pino';
import { KEY_ID, type ValetClaims } from '../../token/claims.js';
import { codeForStatus, ValetError } from '../../token/errors.js';
import type { CorsPolicy } from '../../wire/cors.js';
import { asValetError } from '../../wire/errors.js';
import { storedObjectBody } from '../../wire/objects.js';
import { UPLOADS_PATH } from '../../wire/storage-api.js';
import { extractToken, type KeyAccess } from '../access/access.js';
import type { ObjectMeta } from '../disk/object-file.js';
import type { FileStore } from '../disk/store.js';
import { Upload } from '../disk/upload-file.js';
import { ResumableStore, type UploadInfo, type UploadIntent, type Version } from '../disk/uploads.js';
import type { Commits } from '../events/commits.js';
import { answerPreflight } from './cors.js';
import { type Exchange, header, methodNotAllowed } from './exchange.js';
import { checkPutStart, refuseIfExists } from './put-checks.js';
import {
  CHECKSUM_ALGORITHMS,
  checkTusRequest,
  chunkChecksum,
  TUS_VERSION,
  tusMethod,
  uploadMetadata,
} from './tus-headers.js';
import { isTusError, tusRefusal, webRequest } from './tus-request.js';

const UPLOAD_METHODS = 'POST, HEAD, PATCH, DELETE';
const TUS_HEADERS =
  'Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Metadata, Upload-Offset, Upload-Checksum, X-HTTP-Method-Override';

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
    if (req.method === 'OPTIONS') {
      if (answerPreflight(this.#o.cors, req, res, { methods: UPLOAD_METHODS, allowHeaders: TUS_HEADERS }))
        return;
      res.setHeader('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
      return this.#handle(ex, { id: '' }, 'OPTIONS');
    }
    // tus 1.0: "The Tus-Resumable header MUST be included in every request and response except for
    // OPTIONS requests": Valet's own refusals too.
    res.setHeader('Tus-Resumable', TUS_VERSION);
    const method = tusMethod(req);
    const creation = id === '';
    if (creation ? method !== 'POST' : !['HEAD', 'PATCH', 'DELETE'].includes(method)) {
      throw methodNotAllowed(res, creation ? 'POST, OPTIONS' : 'HEAD, PATCH, DELETE, OPTIONS');
    }
    if (!creation && !KEY_ID.test(id)) throw new ValetError('not_found', 'no such upload');
    checkTusRequest(req, res, method);
    const { claims, kid } = await this.#o.access.verify(extractToken(req, rawQuery));
    ex.claims = claims;
    if (res.headersSent || req.destroyed) return;
    if (claims.op !== 'put')
      throw new ValetError('scope_mismatch', `the valet key is for ${claims.op}, not put`);
    const intent: UploadIntent = creation
      ? { id: claims.jti, creation: await this.#checkCreation(req, claims) }
      : { id: await this.#checkContinuation(claims, kid, id) };
    const checksum = chunkChecksum(req, method);
    if (checksum) intent.checksum = checksum;
    if (expectContinue) res.writeContinue();
    await this.#handle(ex, intent, method);
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
    if (req.headers['upload-defer-length'] !== undefined) {
      throw new ValetError(
        'bad_request',
        'uploads of a length told later (Upload-Defer-Length) are not supported: send Upload-Length alone',
      );
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
      ...(claims.hold && { hold: true }),
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
  async #handle(ex: Exchange, intent: UploadIntent, method: string): Promise<void> {
    const { req, res } = ex;
    const request = webRequest(req, method, (bytes) => {
      ex.bytesIn += bytes;
    });
    this.#requests.set(request, { exchange: ex, intent });
    const response = await this.#uploads.during(intent, () => this.#tus.handleWeb(request));
    if (res.headersSent || res.destroyed) return;
    res.statusCode = response.status;
    for (const [name, value] of response.headers) {
      // No metadata is no header (tus: "one or more" pairs), never an empty one.
      if (name === 'upload-metadata' && value === '') continue;
      res.setHeader(name, value);
    }
    if (response.headers.get('connection') === 'close') res.shouldKeepAlive = false;
    if (response.status >= 400 && intent.creation) await this.#sayWhere(ex, intent.id);
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

  /**
   * A creation refused after its upload was made (creation-with-upload whose bytes were refused:
   * 460, 413, a cut body) still says where the upload is and how much of it storage holds: the key
   * cannot create it again, and without its address the client would have lost it.
   */
  async #sayWhere(ex: Exchange, id: string): Promise<void> {
    const upload = await this.#uploads.getUpload(id).catch(() => undefined);
    if (!upload) return;
    ex.res.setHeader('Location', `${UPLOADS_PATH}/${id}`);
    ex.res.setHeader('Upload-Offset', String(upload.offset));
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
    const body = storedObjectBody({
      object: info.object,
      size: info.size,
      contentType: info.contentType,
      sha256: info.done.sha256,
      etag: info.done.etag,
      upload: info.id,
      receipt: info.done.receipt,
    });
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
      ...(info.hold && { hold: true }),
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
