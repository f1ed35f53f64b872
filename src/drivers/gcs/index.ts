import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ValetClaims } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { normalizeObjectKey } from '../../token/object-key.js';
import { type CheckResult, notOk, ok } from '../../wire/readiness.js';
import { safeDownload } from '../downloads.js';
import type {
  EnforcementTable,
  HeadResult,
  MultipartUploads,
  ObjectStream,
  SignedRequest,
  SignOptions,
  StorageDriver,
} from '../types.js';
import { setCors } from './cors.js';
import { type GcsCredentialOptions, gcsCredentials } from './credentials.js';
import { signPolicy } from './policy.js';
import { cancelSession, sessionPart, sessionParts, sessionState, startSession } from './sessions.js';
import { DEFAULT_ENDPOINT, type GcsCredentials, signV4 } from './signer.js';
import { errorCode, type GcsBucket, ownRequest, unexpected } from './store.js';

export type { GcsCredentialOptions } from './credentials.js';

/** Options for {@link GcsDriver}. */
export interface GcsDriverOptions {
  /** The bucket objects live in. */
  bucket: string;
  /**
   * A service account's JSON key (its `client_email` and `private_key`, e.g. the parsed key file),
   * or an HMAC key of a service account (`accessId`, `secret`).
   */
  credentials: GcsCredentialOptions;
  /** The XML API's origin. Default `https://storage.googleapis.com`. */
  endpoint?: string;
  /**
   * The origin browsers upload from, sent when the issuer starts a resumable session: GCS lets a
   * browser send a session's chunks only from the origin that started it. Unset: no browser
   * origin (uploads from servers and the CLI).
   */
  sessionOrigin?: string;
}

/**
 * The Google Cloud Storage driver: each valet key becomes a V4 signed URL (or a V4 POST policy)
 * for one object of one bucket, signed with `node:crypto` (GOOG4-RSA-SHA256 with a service
 * account's key, GOOG4-HMAC-SHA256 with an HMAC key), so clients talk to GCS directly.
 *
 * - Uploads: a signed `PUT` that signs the content type, `x-goog-content-length-range` (the exact
 *   size, or the range allowed) and, for a create-only key, `x-goog-if-generation-match: 0`. Where
 *   a key allows a family of types (`image/*`) and the client names none, a POST policy binds the
 *   prefix (`starts-with $Content-Type image/`) with the length range.
 * - Reads: a signed `GET` with `response-content-disposition` and `response-content-type`.
 * - Deletes: a signed `DELETE`.
 * - Resumable uploads: GCS resumable sessions (see sessions.ts), part by part as on S3.
 * - The driver's own reads, heads and deletes are V4-signed requests too: no OAuth, no SDK.
 *
 * @example
 * ```ts
 * const gcs = new GcsDriver({ bucket: 'uploads', credentials: JSON.parse(readFileSync('key.json', 'utf8')) })
 * const issuer = await createIssuer({ driver: gcs, … })
 * ```
 */
export class GcsDriver implements StorageDriver {
  readonly name = 'gcs';
  readonly completion = 'client';
  readonly bucket: string;
  readonly endpoint: string;
  readonly resumable: MultipartUploads;
  readonly #store: GcsBucket;
  readonly #credentials: GcsCredentials;

  constructor(options: GcsDriverOptions) {
    if (!options?.bucket || !/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(options.bucket)) {
      throw new ValetError(
        'invalid_options',
        'the GCS driver needs a bucket name (3-222 of a-z, 0-9, dot, dash and underscore)',
      );
    }
    this.bucket = options.bucket;
    this.endpoint = endpointOf(options.endpoint);
    this.#credentials = gcsCredentials(options.credentials);
    this.#store = {
      bucket: this.bucket,
      endpoint: this.endpoint,
      credentials: this.#credentials,
      ...(options.sessionOrigin !== undefined && { sessionOrigin: options.sessionOrigin }),
    };
    const store = this.#store;
    this.resumable = {
      protocol: 'gcs-resumable',
      // A session takes any chunk at its offset: the store holds only the total (x-upload-content-length).
      partLength: 'issuer',
      create: (o, context) => startSession(store, o, context.now),
      signPart: async (o) => sessionPart(o),
      listParts: (_object, uploadId, _context, layout) => sessionParts(store, uploadId, layout),
      complete: (o, context) => this.#complete(o, context.now),
      abort: (_object, uploadId) => cancelSession(store, uploadId),
      // No abortStale: GCS lists no sessions, so the issuer cancels its stale uploads from its
      // own records (and GCS drops a session a week after it started).
    };
  }

  /**
   * Who enforces each constraint on GCS. `store`: GCS refuses the request (a signed header or a
   * policy condition). `issuer`: checked when the client reports the upload done. `none`: nobody.
   */
  enforcement(): EnforcementTable {
    return {
      max_size: 'store',
      min_size: 'store',
      size: 'store',
      content_types: 'store',
      // GCS checks MD5 and CRC32C, never a SHA-256 (it keeps none).
      sha256: 'none',
      // A signed URL works until it expires, as often as it is used.
      once: 'none',
      // x-goog-if-generation-match: 0, signed: GCS refuses to replace an object.
      no_overwrite: 'store',
      // A signed URL cannot be revoked (only its key: delete the HMAC key or the service account key).
      revocation: 'none',
      expiry: 'store',
    };
  }

  /** The signed request for a key's claims (lifetime: the claims' `exp`). */
  async sign(claims: ValetClaims, options: SignOptions): Promise<SignedRequest> {
    const expires = Math.max(1, claims.exp - Math.floor(options.now / 1000));
    const object = normalizeObjectKey(claims.obj);
    const base = { endpoint: this.endpoint, bucket: this.bucket, object, now: options.now, expires };
    if (claims.op === 'put') return this.#signPut(claims, options.contentType, base);
    if (claims.op === 'delete') {
      return {
        method: 'DELETE',
        url: signV4(this.#credentials, { ...base, method: 'DELETE' }).url,
        headers: {},
      };
    }
    // GCS answers with the type signed here, never the uploader's own (as on S3 and Azure).
    const { contentType, disposition } = safeDownload(claims, await options.objectType(), object);
    const query = { 'response-content-disposition': disposition, 'response-content-type': contentType };
    return {
      method: 'GET',
      url: signV4(this.#credentials, { ...base, method: 'GET', query }).url,
      headers: {},
    };
  }

  #signPut(
    claims: ValetClaims,
    contentType: string | undefined,
    base: { endpoint: string; bucket: string; object: string; now: number; expires: number },
  ): SignedRequest {
    const min = claims.size ?? claims.min_size ?? 0;
    const max = claims.size ?? claims.max_size;
    if (max === undefined) {
      throw new ValetError('invalid_options', 'a GCS upload needs an exact size or a maximum size');
    }
    const single = claims.content_types?.length === 1 ? claims.content_types[0] : undefined;
    const type = contentType ?? single;
    // A family of types and no type named: only a POST policy binds the prefix.
    if (type?.endsWith('/*') && !claims.no_overwrite) {
      const policy = signPolicy(this.#credentials, {
        ...base,
        conditions: [
          ['content-length-range', min, max],
          ['starts-with', '$Content-Type', type.slice(0, -1)],
        ],
      });
      return { method: 'POST', url: policy.url, headers: {}, fields: policy.fields };
    }
    const headers: Record<string, string> = { 'x-goog-content-length-range': `${min},${max}` };
    if (type !== undefined && !type.endsWith('/*')) headers['content-type'] = type;
    if (claims.no_overwrite) headers['x-goog-if-generation-match'] = '0';
    const { url } = signV4(this.#credentials, { ...base, method: 'PUT', headers });
    if (claims.size !== undefined) headers['content-length'] = String(claims.size);
    return { method: 'PUT', url, headers };
  }

  /** The object's size, type, generation (as its ETag) and write time; `undefined` if missing. */
  async head(object: string, context?: { now: number }): Promise<HeadResult | undefined> {
    const response = await ownRequest(this.#store, {
      method: 'HEAD',
      object: normalizeObjectKey(object),
      now: context?.now ?? Date.now(),
    });
    await response.body?.cancel();
    if (response.status === 404) return undefined;
    if (!response.ok) throw await unexpected(this.#store, `reading the head of ${object}`, response);
    const modified = Date.parse(response.headers.get('last-modified') ?? '');
    return {
      size: Number(
        response.headers.get('x-goog-stored-content-length') ?? response.headers.get('content-length'),
      ),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      etag: response.headers.get('x-goog-generation') ?? response.headers.get('etag') ?? '',
      ...(Number.isFinite(modified) && { modifiedAt: modified }),
    };
  }

  /** Streams an object (as the issuer; `etag`: only that generation, with `x-goog-if-generation-match`). */
  async read(
    object: string,
    context?: { now: number },
    options: { etag?: string } = {},
  ): Promise<ObjectStream | undefined> {
    const response = await ownRequest(this.#store, {
      method: 'GET',
      object: normalizeObjectKey(object),
      ...(options.etag !== undefined && { headers: { 'x-goog-if-generation-match': options.etag } }),
      now: context?.now ?? Date.now(),
    });
    if (response.status === 404 || response.status === 412) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok || !response.body) throw await unexpected(this.#store, `reading ${object}`, response);
    return {
      body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      size: Number(response.headers.get('content-length')),
      etag: response.headers.get('x-goog-generation') ?? '',
    };
  }

  /** Deletes an object (as the issuer; a missing object is not an error). */
  async delete(object: string, context?: { now: number }): Promise<void> {
    const response = await ownRequest(this.#store, {
      method: 'DELETE',
      object: normalizeObjectKey(object),
      now: context?.now ?? Date.now(),
    });
    await response.body?.cancel();
    if (!response.ok && response.status !== 404) {
      throw await unexpected(this.#store, `deleting ${object}`, response);
    }
  }

  /**
   * Completes a session's upload: the store made the object when its last byte came; the issuer
   * checks it is there, whole and of the declared size (else it is removed: `422`).
   */
  async #complete(
    options: { object: string; uploadId: string; expectedSize: number },
    now: number,
  ): Promise<void> {
    const state = await sessionState(this.#store, options.uploadId, options.expectedSize);
    if (!state.finished) {
      throw new ValetError('precondition_failed', `the store holds ${state.persisted} of the upload's bytes`);
    }
    const head = await this.head(options.object, { now });
    if (head === undefined) throw new ValetError('precondition_failed', 'the upload made no object');
    if (head.size !== options.expectedSize) {
      await this.delete(options.object, { now });
      throw new ValetError(
        'upload_rejected',
        `the upload is not the ${options.expectedSize} bytes it declared`,
      );
    }
  }

  /**
   * Lets browsers on these origins upload and download directly (the bucket's CORS
   * configuration; needs storage.buckets.update).
   */
  allowOrigins(origins: readonly string[]): Promise<void> {
    return setCors(this.#store, origins, Date.now());
  }

  /** The bucket answers and the driver may read it, for the issuer's readiness. */
  async ready(): Promise<CheckResult> {
    try {
      const response = await ownRequest(this.#store, {
        method: 'GET',
        object: '.valet-readiness-probe',
        now: Date.now(),
      });
      if (response.ok) {
        await response.body?.cancel();
        return ok();
      }
      const code = await errorCode(response);
      if (response.status === 404 && code !== 'NoSuchBucket') return ok();
      return notOk(
        'failing',
        `the GCS bucket ${this.bucket} answers ${response.status}${code ? ` (${code})` : ''}`,
      );
    } catch {
      return notOk('failing', `the GCS bucket ${this.bucket} cannot be reached at ${this.endpoint}`);
    }
  }
}

/** The XML API origin, without a path (signatures cover the path from the bucket on). */
function endpointOf(endpoint: string | undefined): string {
  if (endpoint === undefined) return DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ValetError('invalid_options', `the GCS endpoint ${endpoint} is not a URL`);
  }
  if (!/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search !== '') {
    throw new ValetError(
      'invalid_options',
      `the GCS endpoint is an http(s) origin with no path, not ${endpoint}`,
    );
  }
  return url.origin;
}
