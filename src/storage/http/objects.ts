import type http from 'node:http';
import type { ValetClaims } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { tooSmall } from '../../token/limits.js';
import { objectPath } from '../../token/mint.js';
import { decodeObjectKeyPath } from '../../token/object-key.js';
import { type DeletedObjectBody, type StoredObjectBody, storedObjectBody } from '../../wire/objects.js';
import { contentDisposition, DOWNLOAD_CSP, defaultFilename, isInlineType } from '../../wire/serving.js';
import { UPLOADS_PATH } from '../../wire/storage-api.js';
import { extractToken, type KeyAccess } from '../access/access.js';
import type { ObjectMeta } from '../disk/object-file.js';
import { type SendBudget, SendProgress } from '../disk/send-file.js';
import type { FileStore } from '../disk/store.js';
import type { Commits } from '../events/commits.js';
import { evaluatePreconditions, ifRangeHolds } from './conditions.js';
import { type Exchange, methodNotAllowed, sendJson } from './exchange.js';
import { type MinRate, watchSendRate } from './min-rate.js';
import { checkPutStart, refuseIfExists } from './put-checks.js';
import { parseRange } from './range.js';

const EMPTY = Buffer.alloc(0);
const METHOD_OPS = { GET: 'get', HEAD: 'head', PUT: 'put', DELETE: 'delete', POST: 'publish' } as const;
/** The methods of `/o/<key>` (`POST`: the issuer publishes a held version). */
export const OBJECT_METHODS = 'GET, HEAD, PUT, DELETE, POST, OPTIONS';

/**
 * `/o/<object key>`: `PUT` stores a version (streamed to disk, checked against the key as it
 * arrives, committed whole or not at all), `GET`/`HEAD` serve one with safe headers, ranges and
 * conditional requests, `DELETE` removes it, `POST` with the issuer's publish key makes a held
 * version readable. The key must be for this object and this operation.
 */
export class ObjectRoutes {
  readonly #store: FileStore;
  readonly #access: KeyAccess;
  readonly #commits: Commits;
  readonly #now: () => number;
  readonly #sending: { budget: SendBudget; minRate: MinRate };

  constructor(
    store: FileStore,
    access: KeyAccess,
    commits: Commits,
    options: { now: () => number; budget: SendBudget; minRate: MinRate },
  ) {
    this.#store = store;
    this.#access = access;
    this.#commits = commits;
    this.#now = options.now;
    this.#sending = { budget: options.budget, minRate: options.minRate };
  }

  async serve(ex: Exchange, rawPath: string, rawQuery: string, expectContinue: boolean): Promise<void> {
    const { req, res } = ex;
    const op = METHOD_OPS[req.method as keyof typeof METHOD_OPS];
    if (!op) throw methodNotAllowed(res, OBJECT_METHODS);
    const objectKey = decodeObjectKeyPath(rawPath.slice('/o/'.length));
    const { claims } = await this.#access.verify(extractToken(req, rawQuery));
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
    if (claims.once) this.#access.reserve(claims);
    try {
      if (op === 'put') await this.#put(ex, claims, expectContinue);
      else if (op === 'delete') await this.#delete(ex, claims);
      else if (op === 'publish') {
        await this.#commits.publish(claims);
        ex.res.writeHead(204).end();
      } else await this.#read(ex, claims, op === 'head');
    } finally {
      if (claims.once) this.#access.release(claims);
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
    await refuseIfExists(this.#store, claims);
    this.#store.refuseIfJournalFailing(declared, claims.no_overwrite === true);
    if (expectContinue) res.writeContinue();
    const upload = await this.#store.beginUpload();
    try {
      const received = await upload.receive(req, {
        maxSize,
        declaredSize: declared,
        onHold: (held) => ex.held?.set(held),
      });
      ex.bytesIn = received.size;
      if (minSize !== undefined && received.size < minSize) throw tooSmall('the body', minSize);
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
      const { created, receipt } = await this.#commits.commitVersion(upload, meta, {
        noOverwrite,
        ...(claims.hold && { hold: true }),
        consume: () => this.#access.consume(claims),
      });
      res.setHeader('ETag', meta.etag);
      res.setHeader('Last-Modified', new Date(meta.created).toUTCString());
      if (created) res.setHeader('Location', objectPath(meta.key));
      sendJson(res, created ? 201 : 200, { ...storedObject(meta), ...(receipt && { receipt }) });
    } finally {
      await upload.discard();
    }
  }

  async #delete(ex: Exchange, claims: ValetClaims): Promise<void> {
    const receipt = await this.#commits.deleteVersion(claims, () => this.#access.consume(claims));
    if (!receipt) {
      ex.res.writeHead(204).end();
      return;
    }
    const body: DeletedObjectBody = { object: claims.obj, deleted: true, receipt };
    sendJson(ex.res, 200, body);
  }

  async #read(ex: Exchange, claims: ValetClaims, headOnly: boolean): Promise<void> {
    const { req, res } = ex;
    // Any use of a single-use key consumes it, whatever the answer (304, 412, 416, 404 too): else
    // the key is an oracle for "does it exist, is it still this content" as often as asked.
    this.#access.consume(claims);
    const object = await this.#store.open(claims.obj);
    if (!object) throw new ValetError('not_found', 'no such object');
    let streaming = false;
    try {
      const { meta } = object;
      if (!claims.held && this.#commits.held.isHeld(meta.key, meta.keyId)) {
        throw new ValetError(
          'object_pending',
          'the object is being checked (its upload is validated before anyone may read it); ask again later',
        );
      }
      res.setHeader('ETag', meta.etag);
      res.setHeader('Last-Modified', new Date(meta.created).toUTCString());
      res.setHeader('Cache-Control', 'private, no-store');
      res.setHeader('Accept-Ranges', 'bytes');
      const precondition = evaluatePreconditions(req, meta);
      if (precondition === 'not_modified') {
        res.writeHead(304).end();
        return;
      }
      if (precondition === 'failed') {
        throw new ValetError('precondition_failed', "the object does not match the request's preconditions");
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
      setBodyHeaders(res, claims, meta, start, end, range.kind === 'partial');
      const length = end - start + 1;
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
      // The read-ahead (up to 64 KiB) is not needed past here: a slow client must not keep it.
      object.head = EMPTY;
      const progress = new SendProgress();
      // A client that takes the bytes slower than the minimum rate is cut, as for bodies.
      const stop = watchSendRate(progress, this.#sending.minRate, () => {
        ex.code = 'request_timeout';
        // A reset, not a close: what the kernel still holds for this client is dropped too (a
        // close would go on trickling it out for as long as the client likes).
        if (res.socket) res.socket.resetAndDestroy();
        else res.destroy();
      });
      try {
        // send() owns the fd from here and closes it, also when the client goes away.
        await object.send(res, start, end, { budget: this.#sending.budget, progress });
      } finally {
        stop();
      }
    } finally {
      if (!streaming) await object.close();
    }
  }
}

/** The headers of a read's body: type, a safe disposition and CSP, its length and range. */
function setBodyHeaders(
  res: http.ServerResponse,
  claims: ValetClaims,
  meta: ObjectMeta,
  start: number,
  end: number,
  partial: boolean,
): void {
  const inline = claims.inline ?? isInlineType(meta.contentType);
  res.setHeader('Content-Type', meta.contentType);
  res.setHeader(
    'Content-Disposition',
    contentDisposition(inline ? 'inline' : 'attachment', claims.filename ?? defaultFilename(meta.key)),
  );
  res.setHeader('Content-Security-Policy', DOWNLOAD_CSP);
  res.setHeader('Content-Length', end - start + 1);
  if (partial) res.setHeader('Content-Range', `bytes ${start}-${end}/${meta.size}`);
  res.statusCode = partial ? 206 : 200;
}

/** A stored version, as a PUT answers it. */
function storedObject(meta: ObjectMeta): StoredObjectBody {
  return storedObjectBody({
    object: meta.key,
    size: meta.size,
    contentType: meta.contentType,
    sha256: meta.sha256,
    etag: meta.etag,
    lastModified: new Date(meta.created).toISOString(),
  });
}
