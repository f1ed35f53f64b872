import { codeForStatus, ERROR_STATUS, type ErrorCode, ValetError } from '../token/errors.js';
import type { ErrorBody } from '../wire/errors.js';
import type {
  KeyBody,
  KeyRequestBody,
  MultipartStateBody,
  ObjectListBody,
  PartBody,
  ShareBody,
  ShareListBody,
  UploadProtocol,
} from '../wire/issuer-api.js';
import type { StoredObjectBody, TusVersion } from '../wire/storage-api.js';
import { defaultResumeStore, isNode, type ResumeStore } from './resume.js';

export {
  fileResumeStore,
  localStorageResumeStore,
  memoryResumeStore,
  type ResumeStore,
  type SavedUpload,
} from './resume.js';

/** Options for {@link createClient}. */
export interface ClientOptions {
  /** The issuer's base URL, e.g. `https://app.example.com` or `http://127.0.0.1:8080`. */
  issuer: string;
  /** Returns the caller's bearer token for the issuer (an OIDC token, a session token…). */
  getToken: () => string | null | undefined | Promise<string | null | undefined>;
  /** The fetch to use. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Retries after a transient failure (network error, 5xx). Default 3. Refusals (4xx) are never retried. */
  retries?: number;
  /** First retry delay, ms; doubles each time, with jitter. Default 500. */
  retryDelay?: number;
  /** Computes the SHA-256 (hex) of a Blob. Default: WebCrypto over the whole Blob (up to 512 MiB). */
  digest?: (data: BlobLike) => Promise<string>;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * Blobs at least this large are sent as a resumable upload (tus on Valet storage), in chunks
   * that survive network drops, restarts and expiring keys. Default 8 MiB; `Infinity`: never.
   */
  resumableThreshold?: number;
  /** Bytes per request of a resumable upload. Default 64 MiB. */
  chunkSize?: number;
  /**
   * Where unfinished resumable uploads are remembered, so that they resume after a restart.
   * Default: `localStorage` in browsers, `~/.valet/uploads.json` (or `$VALET_STATE_DIR`) in Node.
   * `null`: remember nothing (resume only within one `upload()` call).
   */
  resumeStore?: ResumeStore | null;
}

/** Progress of a transfer. */
export interface Progress {
  loaded: number;
  /** Absent when the size is not known in advance (a stream). */
  total?: number;
}

/**
 * What `upload()` needs of a Blob: a real `Blob` or `File`, or a source that reads on demand,
 * such as a Node file from `openFile(path)` in `valet/client/node`.
 */
export interface BlobLike {
  readonly size: number;
  readonly type: string;
  slice(start?: number, end?: number, contentType?: string): BlobLike;
  stream(): ReadableStream<Uint8Array>;
}

/** What can be uploaded. A Node file, however large: `await openFile(path)` from `valet/client/node`. */
export type UploadData =
  | Blob
  | BlobLike
  | ArrayBuffer
  | ArrayBufferView
  | string
  | ReadableStream<Uint8Array>;

/** Options for {@link ValetClient.upload}. */
export interface UploadOptions {
  /** The issuer rule to use; default: the first upload rule that allows it. */
  rule?: string;
  /** The proposed object name (the rule confines it, e.g. under `users/<you>/`). */
  name?: string;
  /** The content type; default: the Blob's type, if any. */
  contentType?: string;
  /** Bind the body's SHA-256 into the key (`true`: computed here; a hex string: already known). */
  sha256?: boolean | string;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
  /** Force (`true`) or avoid (`false`) a resumable upload; default: by the client's threshold. */
  resumable?: boolean;
  /**
   * What identifies the source across restarts, so that uploading it again resumes the earlier
   * upload (the CLI uses the file's path, size and modification time). Default for a browser
   * `File`: its name, size, type and modification time; other data resumes only within one call.
   */
  fingerprint?: string;
  /** Called when an earlier upload of the same source resumes, with what storage already has. */
  onResume?: (state: { offset: number; total: number }) => void;
  /**
   * When `signal` aborts a resumable upload: keep it, so that uploading the same source again
   * resumes it (`true`, the default: a pause), or cancel it at storage and forget it (`false`).
   */
  keepOnAbort?: boolean;
}

/** An upload, as committed by storage. */
export interface UploadResult {
  key: string;
  size: number;
  sha256: string;
  etag: string;
  contentType: string;
  /** The key the upload used: its scope and expiry (never the token). */
  grant: Grant;
  /** Request-body bytes sent to the issuer and to storage, all attempts included. */
  bytes: { toIssuer: number; toStorage: number };
  /** The resumable upload's id, when the body went as one. */
  upload?: string;
}

/** What a valet key allowed, without the key itself. */
export interface Grant {
  id: string;
  op: string;
  object: string;
  expiresAt: string;
  constraints: Record<string, unknown>;
}

/** A URL that reads one object for a short time (for `<img>`, `<video>` or a download link). */
export interface ReadUrl {
  url: string;
  expiresAt: string;
}

/** A download under way. */
export interface Download {
  key: string;
  /** The bytes; read it once. */
  body: ReadableStream<Uint8Array>;
  size: number;
  contentType: string;
  etag: string;
  /** The whole body as a Blob. */
  blob(): Promise<Blob>;
}

/** An object in the caller's listing. */
export interface ObjectInfo {
  key: string;
  size: number;
  contentType: string;
  sha256: string;
  etag: string;
  createdAt: string;
  updatedAt: string;
}

/** A share link. */
export interface Share {
  id: string;
  url: string;
  key: string;
  expiresAt: string;
}

type WireKey = KeyBody;
type StoredObject = StoredObjectBody;

function formOf(key: { fields?: Record<string, string> }, blob: Blob): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(key.fields ?? {})) form.append(name, value);
  // The policy may allow a range of types (`image/*`): the file's own type is sent.
  if (key.fields?.['Content-Type'] === undefined && blob.type) form.append('Content-Type', blob.type);
  form.append('file', blob);
  return form;
}

/** Keys this close to expiry are not used to start a transfer: a fresh one is asked for. */
const EXPIRY_MARGIN_MS = 2_000;
/** A resumable upload renews its key when it has less than this left before the next chunk. */
const RENEW_MARGIN_MS = 30_000;
const DEFAULT_RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
const TUS_VERSION: TusVersion = '1.0.0';
const MULTIPART: UploadProtocol = 's3-multipart';
/** Refusals after which a remembered upload cannot continue: it is forgotten and started again. */
const UPLOAD_LOST: ReadonlySet<string> = new Set(['not_found', 'upload_gone', 'forbidden', 'scope_mismatch']);
/** Largest Blob hashed in memory by the default digest. */
const MAX_DEFAULT_DIGEST = 512 * 1024 * 1024;

/**
 * Creates a Valet client: asks the issuer for narrow keys and moves bytes straight to storage.
 * Zero runtime dependencies; runs in browsers and Node.
 *
 * @example
 * ```ts
 * const valet = createClient({ issuer: 'http://127.0.0.1:8080', getToken: () => session.token })
 * const { key } = await valet.upload(file, { name: file.name, onProgress: (p) => bar(p.loaded / p.total!) })
 * const link = await valet.share(key, { ttl: 600 })
 * ```
 */
export function createClient(options: ClientOptions): ValetClient {
  return new ValetClient(options);
}

/** The Valet client. Create it with {@link createClient}. */
export class ValetClient {
  readonly #issuer: string;
  readonly #options: ClientOptions;
  readonly #fetch: typeof globalThis.fetch;
  readonly #retries: number;
  readonly #retryDelay: number;
  readonly #now: () => number;
  readonly #threshold: number;
  readonly #chunkSize: number;
  #resumeStore: ResumeStore | null | undefined;

  constructor(options: ClientOptions) {
    if (typeof options?.issuer !== 'string' || !/^https?:\/\//.test(options.issuer)) {
      throw new ValetError('invalid_options', 'issuer must be an http(s) URL');
    }
    if (typeof options.getToken !== 'function')
      throw new ValetError('invalid_options', 'getToken must be a function');
    this.#issuer = options.issuer.replace(/\/+$/, '');
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#retries = options.retries ?? 3;
    this.#retryDelay = options.retryDelay ?? 500;
    this.#now = options.now ?? Date.now;
    this.#threshold = options.resumableThreshold ?? DEFAULT_RESUMABLE_THRESHOLD;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!(this.#chunkSize >= 1)) throw new ValetError('invalid_options', 'chunkSize must be at least 1 byte');
    this.#resumeStore = options.resumeStore;
  }

  /**
   * Uploads `data` straight to storage with a key from the issuer. Retries transient failures
   * with backoff (a Blob is re-sent from the start; a stream cannot be, so it is sent once), with a
   * fresh key for every attempt.
   */
  async upload(data: UploadData, options: UploadOptions = {}): Promise<UploadResult> {
    const { signal, onProgress } = options;
    const isStream = typeof ReadableStream !== 'undefined' && data instanceof ReadableStream;
    const blob: BlobLike | undefined = isStream
      ? undefined
      : toBlob(data as Exclude<UploadData, ReadableStream<Uint8Array>>);
    const contentType = options.contentType ?? (blob?.type ? blob.type : undefined);
    let sha256: string | undefined;
    if (typeof options.sha256 === 'string') sha256 = options.sha256.toLowerCase();
    else if (options.sha256 === true) {
      if (!blob)
        throw new ValetError('bad_request', 'a stream cannot be hashed before it is sent; pass the SHA-256');
      sha256 = await (this.#options.digest ?? defaultDigest)(blob);
    }
    const request: KeyRequestBody = {
      op: 'put',
      ...(options.rule !== undefined && { rule: options.rule }),
      ...(options.name !== undefined && { name: options.name }),
      ...(blob && { size: blob.size }),
      ...(contentType !== undefined && { content_type: contentType }),
      ...(sha256 !== undefined && { sha256 }),
    };
    const attempts = blob ? this.#retries + 1 : 1;
    const bytes = { toIssuer: 0, toStorage: 0 };
    let used: WireKey | undefined;
    const requestBytes = new TextEncoder().encode(JSON.stringify(request)).byteLength;
    let resumed: { result: StoredObject; key: WireKey } | undefined;
    if (blob && (options.resumable ?? blob.size >= this.#threshold)) {
      try {
        resumed = await this.#uploadResumable(blob, request, options, bytes);
      } catch (error) {
        // A store without resumable uploads (the issuer says so at once): one request instead.
        if (!(error instanceof ValetError && error.code === 'resumable_unsupported')) throw error;
      }
    }
    const result = resumed
      ? resumed.result
      : await this.#withRetry(attempts, signal, async () => {
          const key = await this.#freshKey(request, signal, () => {
            bytes.toIssuer += requestBytes;
          });
          used = key;
          // Bytes sent to storage in this attempt, counted from the progress events.
          let sent = 0;
          const progress = (p: Progress) => {
            sent = p.loaded;
            onProgress?.(p);
          };
          const settle = () => {
            bytes.toStorage += sent;
          };
          const headers: Record<string, string> = { ...key.headers };
          if (blob) headers['content-length'] = String(blob.size);
          const total = blob?.size;
          // Browsers stream a request body only over HTTP/2 and report no upload progress for fetch:
          // there a Blob goes through XMLHttpRequest.
          if (key.fields && !blob) {
            throw new ValetError(
              'bad_request',
              'this store needs the size of a stream: upload a Blob or a file',
            );
          }
          const response =
            blob instanceof Blob && this.#options.fetch === undefined && browserXhr() !== undefined
              ? await sendWithXhr(key, blob, progress, signal).finally(settle)
              : key.fields && blob
                ? await this.#sendForm(
                    key,
                    blob instanceof Blob ? blob : await new Response(blob.stream()).blob(),
                    progress,
                    signal,
                  ).finally(settle)
                : await this.#send(
                    key,
                    headers,
                    blob ? blob.stream() : (data as ReadableStream<Uint8Array>),
                    total,
                    progress,
                    signal,
                  ).finally(settle);
          if (key.complete) {
            // Another store (S3…): the issuer verifies the object from the store and records it.
            await response.body?.cancel();
            return (await this.#issuerCall('POST', key.complete, {}, signal, 1)) as StoredObject;
          }
          return (await response.json()) as StoredObject;
        });
    if (resumed) used = resumed.key;
    // A store that keeps no checksum (some S3 engines) reports none: nothing to compare then.
    if (sha256 !== undefined && result.sha256 !== '' && result.sha256 !== sha256) {
      throw new ValetError('bad_digest', 'storage stored a body with another SHA-256');
    }
    return {
      key: result.object,
      size: result.size,
      sha256: result.sha256,
      etag: result.etag,
      contentType: result.content_type,
      grant: toGrant(used as WireKey),
      ...(used?.upload && { upload: used.upload.id }),
      bytes,
    };
  }

  /**
   * A URL that reads `key` straight from storage for a short time: for `<img>`, `<video>`, or a
   * download link (`disposition: 'attachment'`, with an optional file name). Storage decides what
   * shows inline (raster images, audio, video, PDF); everything else downloads.
   */
  async readUrl(
    key: string,
    options: { disposition?: 'attachment'; filename?: string; signal?: AbortSignal } = {},
  ): Promise<ReadUrl> {
    const minted = (await this.#issuerCall(
      'POST',
      '/v1/keys',
      {
        op: 'get',
        key,
        ...(options.disposition !== undefined && { disposition: options.disposition }),
        ...(options.filename !== undefined && { filename: options.filename }),
      },
      options.signal,
    )) as WireKey;
    return { url: minted.url, expiresAt: minted.expires_at };
  }

  /** The caller's share links that still work. */
  async shares(
    options: { signal?: AbortSignal } = {},
  ): Promise<Array<Omit<Share, 'url'> & { createdAt: string }>> {
    const body = (await this.#issuerCall('GET', '/v1/shares', undefined, options.signal)) as ShareListBody;
    return body.shares.map((s) => ({
      id: s.id,
      key: s.object,
      createdAt: s.created_at,
      expiresAt: s.expires_at,
    }));
  }

  /** Downloads an object straight from storage. */
  async download(
    key: string,
    options: { signal?: AbortSignal; onProgress?: (p: Progress) => void } = {},
  ): Promise<Download> {
    const { signal, onProgress } = options;
    const response = await this.#withRetry(this.#retries + 1, signal, async () => {
      const minted = await this.#freshKey({ op: 'get', key }, signal);
      return this.#storageFetch(minted.url, { method: 'GET', signal });
    });
    const size = Number(response.headers.get('content-length') ?? '0');
    let body: ReadableStream<Uint8Array> = response.body ?? new Blob([]).stream();
    if (onProgress) {
      let loaded = 0;
      body = body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            loaded += chunk.byteLength;
            onProgress({ loaded, total: size });
            controller.enqueue(chunk);
          },
        }),
      );
    }
    const stream = body;
    return {
      key,
      body: stream,
      size,
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      etag: response.headers.get('etag') ?? '',
      blob: () => new Response(stream).blob(),
    };
  }

  /** Deletes an object (with a single-use delete key). */
  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#withRetry(this.#retries + 1, options.signal, async () => {
      const minted = await this.#freshKey({ op: 'delete', key }, options.signal);
      const response = await this.#storageFetch(minted.url, { method: 'DELETE', signal: options.signal });
      await response.body?.cancel();
      // Another store (S3…) sends the issuer no event: report the deletion, the issuer checks it.
      if (minted.complete) await this.#issuerCall('POST', minted.complete, {}, options.signal, 1);
    });
  }

  /** The caller's objects, from the issuer's registry. */
  async list(options: { signal?: AbortSignal } = {}): Promise<ObjectInfo[]> {
    const body = (await this.#issuerCall('GET', '/v1/objects', undefined, options.signal)) as ObjectListBody;
    return body.objects.map((o) => ({
      key: o.key,
      size: o.size,
      contentType: o.content_type,
      sha256: o.sha256,
      etag: o.etag,
      createdAt: o.created_at,
      updatedAt: o.updated_at,
    }));
  }

  /** Creates a download link for one of the caller's objects, valid for `ttl` seconds. */
  async share(key: string, options: { ttl: number; signal?: AbortSignal }): Promise<Share> {
    const body = (await this.#issuerCall(
      'POST',
      '/v1/shares',
      { key, ttl: options.ttl },
      options.signal,
    )) as ShareBody;
    return { id: body.id, url: body.url, key: body.object, expiresAt: body.expires_at };
  }

  /** Revokes a share link: it stops working at once, and keys it handed out soon after. */
  async unshare(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#issuerCall('DELETE', `/v1/shares/${encodeURIComponent(id)}`, undefined, options.signal);
  }

  /**
   * A resumable (tus) upload: resumes a remembered upload of the same source if there is one
   * (with a renewed key), else creates one; then sends chunks, renewing the key before it
   * expires, and after a failure asks storage for its offset and continues from there.
   */
  async #uploadResumable(
    blob: BlobLike,
    request: KeyRequestBody,
    options: UploadOptions,
    bytes: { toIssuer: number; toStorage: number },
  ): Promise<{ result: StoredObject; key: WireKey }> {
    const { signal, onProgress } = options;
    if (this.#resumeStore === undefined) this.#resumeStore = defaultResumeStore();
    const store = this.#resumeStore;
    const source = options.fingerprint ?? fileFingerprint(blob);
    const fingerprint =
      store && source !== undefined
        ? JSON.stringify([this.#issuer, request.rule ?? null, request.name ?? null, blob.size, source])
        : undefined;
    const issuer = async (body: Record<string, unknown>) => {
      bytes.toIssuer += new TextEncoder().encode(JSON.stringify(body)).byteLength;
      return (await this.#issuerCall('POST', '/v1/keys', body, signal)) as WireKey;
    };
    const renew = (id: string) => issuer({ op: 'put', upload: id });
    const forget = async () => {
      if (store && fingerprint !== undefined) await store.remove(fingerprint).catch(() => {});
    };
    const job: ResumableJob = { blob, options, bytes, forget };

    let session: { url: string; id: string; key: WireKey } | undefined;
    let offset = 0;
    const saved = store && fingerprint !== undefined ? await store.get(fingerprint) : undefined;
    if (saved && saved.size === blob.size && saved.protocol === MULTIPART) {
      try {
        return await this.#sendParts(saved.id, saved.partSize ?? 0, true, job);
      } catch (error) {
        if (!(error instanceof ValetError && UPLOAD_LOST.has(error.code))) throw error;
        await forget();
      }
    } else if (saved && saved.size === blob.size) {
      try {
        const key = await renew(saved.id);
        const state = await this.#uploadState(saved.url, key, signal);
        if (state.result) {
          await forget();
          onProgress?.({ loaded: blob.size, total: blob.size });
          return { result: state.result, key };
        }
        session = { url: saved.url, id: saved.id, key };
        offset = state.offset;
        options.onResume?.({ offset, total: blob.size });
      } catch (error) {
        if (!(error instanceof ValetError && UPLOAD_LOST.has(error.code))) throw error;
        await forget();
      }
    }
    if (!session) {
      session = await this.#withRetry(this.#retries + 1, signal, async () => {
        const key = await issuer({ ...request, resumable: true });
        if (!key.upload) throw new ValetError('resumable_unsupported', 'the issuer gave no resumable upload');
        // Another store: the issuer has started a multipart upload already.
        if (key.upload.protocol === MULTIPART) return { url: key.url, id: key.upload.id, key };
        const metadata = [`filename ${base64(String(request.name ?? 'upload'))}`];
        if (request.content_type !== undefined) metadata.push(`filetype ${base64(request.content_type)}`);
        const response = await this.#storageFetch(key.url, {
          method: 'POST',
          headers: {
            ...key.headers,
            'tus-resumable': TUS_VERSION,
            'upload-length': String(blob.size),
            'upload-metadata': metadata.join(','),
          },
          signal,
        });
        await response.body?.cancel();
        const location = response.headers.get('location');
        if (!location)
          throw new ValetError('internal_error', 'storage created the upload without a Location');
        return { url: new URL(location, key.url).href, id: key.upload.id, key };
      });
      const partSize = session.key.upload?.protocol === MULTIPART ? session.key.upload.part_size : undefined;
      if (store && fingerprint !== undefined) {
        await store.set(fingerprint, {
          url: session.url,
          id: session.id,
          object: session.key.object,
          size: blob.size,
          created: this.#now(),
          ...(partSize !== undefined && { protocol: MULTIPART, partSize }),
        });
      }
      if (partSize !== undefined) {
        const sent = await this.#sendParts(session.id, partSize, false, job);
        return { result: sent.result, key: session.key };
      }
    }
    const tus = session;
    // Cancelled for good: the upload is terminated at storage (tus DELETE).
    const cancel = () =>
      this.#fetch(tus.url, {
        method: 'DELETE',
        headers: { ...tus.key.headers, 'tus-resumable': TUS_VERSION },
      }).then((r) => r.body?.cancel());
    return cancellingOnAbort(job, cancel, this.#sendTusChunks(tus, offset, job, renew));
  }

  /** The chunks of a tus upload from `offset` on, with key renewal and resync after failures. */
  async #sendTusChunks(
    session: { url: string; id: string; key: WireKey },
    start: number,
    job: ResumableJob,
    renew: (id: string) => Promise<WireKey>,
  ): Promise<{ result: StoredObject; key: WireKey }> {
    const { blob, options, bytes, forget } = job;
    const { signal, onProgress } = options;
    let offset = start;
    let failures = 0;
    let delay = this.#retryDelay;
    for (;;) {
      if (signal?.aborted) throw new ValetError('aborted', 'the operation was aborted');
      try {
        if (Date.parse(session.key.expires_at) - this.#now() < RENEW_MARGIN_MS) {
          session.key = await renew(session.id);
        }
        let result: StoredObject | undefined;
        // (An empty upload is complete once created: HEAD below gives its result.)
        if (offset < blob.size) {
          const end = Math.min(blob.size, offset + this.#chunkSize);
          const start = offset;
          let sent = 0;
          const sentChunk = await this.#sendChunk(session, blob, start, end, signal, (p) => {
            sent = p.loaded;
            onProgress?.({ loaded: start + p.loaded, total: blob.size });
          }).finally(() => {
            bytes.toStorage += sent;
          });
          offset = sentChunk.offset;
          result = sentChunk.result;
        }
        if (!result && offset >= blob.size)
          result = (await this.#uploadState(session.url, session.key, signal)).result;
        failures = 0;
        delay = this.#retryDelay;
        if (result) {
          await forget();
          return { result, key: session.key };
        }
      } catch (error) {
        if (signal?.aborted) throw new ValetError('aborted', 'the operation was aborted', { cause: error });
        const code = error instanceof ValetError ? error.code : undefined;
        const transient = retryable(error) || code === 'offset_mismatch';
        if (!transient) {
          // The upload itself was refused (digest, size, create-only…) or is gone: start over next time.
          if (code !== 'unauthenticated' && code !== 'token_revoked') await forget();
          throw error;
        }
        if (++failures > this.#retries) throw error;
        if (code !== 'offset_mismatch' && code !== 'token_expired') {
          await sleep(delay * (0.5 + Math.random() / 2), signal);
          delay *= 2;
        }
        if (code === 'token_expired' || code === 'token_not_yet_valid')
          session.key = await renew(session.id).catch(() => session?.key as WireKey);
        // Where storage is: the chunk may have landed in part.
        try {
          const state = await this.#uploadState(session.url, session.key, signal);
          if (state.result) {
            await forget();
            return { result: state.result, key: session.key };
          }
          offset = state.offset;
        } catch (stateError) {
          if (stateError instanceof ValetError && UPLOAD_LOST.has(stateError.code)) {
            await forget();
            throw stateError;
          }
        }
      }
    }
  }

  /**
   * A multipart upload on another store (S3): each missing part gets its own presigned request
   * from the issuer (its exact length) and is sent straight to the store, with retries; then the
   * issuer checks the parts and completes the upload. Resuming asks the issuer which parts the
   * store already holds.
   */
  #sendParts(
    id: string,
    partSize: number,
    resuming: boolean,
    job: ResumableJob,
  ): Promise<{ result: StoredObject; key: WireKey }> {
    // Cancelled for good: the issuer aborts the multipart upload at the store.
    const cancel = () => this.#issuerCall('DELETE', `/v1/uploads/${id}`, undefined, undefined, 1);
    return cancellingOnAbort(job, cancel, this.#partsFrom(id, partSize, resuming, job));
  }

  async #partsFrom(
    id: string,
    partSize: number,
    resuming: boolean,
    job: ResumableJob,
  ): Promise<{ result: StoredObject; key: WireKey }> {
    const { blob, options, bytes, forget } = job;
    const { signal, onProgress } = options;
    if (!(partSize > 0)) throw new ValetError('internal_error', 'the multipart upload has no part size');
    const count = Math.max(1, Math.ceil(blob.size / partSize));
    const bounds = (n: number) => [(n - 1) * partSize, Math.min(blob.size, n * partSize)] as const;
    const held = new Set<number>();
    if (resuming) {
      const state = (await this.#issuerCall(
        'GET',
        `/v1/uploads/${id}`,
        undefined,
        signal,
      )) as MultipartStateBody;
      for (const { part, size } of state.parts) {
        const [start, end] = part >= 1 && part <= count ? bounds(part) : [0, -1];
        if (size === end - start) held.add(part);
      }
    }
    let done = [...held].reduce((sum, n) => sum + bounds(n)[1] - bounds(n)[0], 0);
    if (resuming) options.onResume?.({ offset: done, total: blob.size });
    const body = (part: number) => ({ part });
    for (let n = 1; n <= count; n++) {
      if (held.has(n)) continue;
      const [start, end] = bounds(n);
      await this.#withRetry(this.#retries + 1, signal, async () => {
        bytes.toIssuer += new TextEncoder().encode(JSON.stringify(body(n))).byteLength;
        const part = (await this.#issuerCall(
          'POST',
          `/v1/uploads/${id}/parts`,
          body(n),
          signal,
          1,
        )) as PartBody;
        const chunk = blob.slice(start, end);
        let sent = 0;
        const progress = (p: Progress) => {
          sent = p.loaded;
          onProgress?.({ loaded: done + p.loaded, total: blob.size });
        };
        const response = await (this.#options.fetch === undefined &&
        browserXhr() !== undefined &&
        chunk instanceof Blob
          ? sendWithXhr(part, chunk, progress, signal)
          : this.#send(part, { ...part.headers }, chunk.stream(), chunk.size, progress, signal)
        ).finally(() => {
          bytes.toStorage += sent;
        });
        await response.body?.cancel();
      });
      done += end - start;
    }
    const result = (await this.#issuerCall(
      'POST',
      `/v1/uploads/${id}/complete`,
      {},
      signal,
      1,
    )) as StoredObject;
    await forget();
    onProgress?.({ loaded: blob.size, total: blob.size });
    const key: WireKey = {
      id,
      op: 'put',
      object: result.object,
      url: `/v1/uploads/${id}`,
      method: 'POST',
      headers: {},
      expires_at: new Date(this.#now()).toISOString(),
      constraints: {},
      upload: { id, protocol: MULTIPART, renewals: 0 },
    };
    return { result, key };
  }

  /** Sends bytes `start`..`end` of a resumable upload; returns the new offset, and the object once complete. */
  async #sendChunk(
    session: { url: string; key: WireKey },
    blob: BlobLike,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
    onProgress: (p: Progress) => void,
  ): Promise<{ offset: number; result?: StoredObject }> {
    const chunk = blob.slice(start, end);
    const headers: Record<string, string> = {
      ...session.key.headers,
      'tus-resumable': TUS_VERSION,
      'upload-offset': String(start),
      'content-type': 'application/offset+octet-stream',
    };
    const target = { url: session.url, method: 'PATCH', headers };
    let response: Response;
    if (this.#options.fetch === undefined && browserXhr() !== undefined && chunk instanceof Blob) {
      response = await sendWithXhr(target, chunk, onProgress, signal);
    } else {
      headers['content-length'] = String(chunk.size);
      response = await this.#send(target, headers, chunk.stream(), chunk.size, onProgress, signal);
    }
    const offset = uploadOffset(response);
    if (response.status === 200 && response.headers.get('content-type')?.includes('json')) {
      return { offset, result: (await response.json()) as StoredObject };
    }
    await response.body?.cancel();
    return { offset };
  }

  /** Asks storage where an upload is (`HEAD`): its offset, and what was stored if it is finished. */
  async #uploadState(
    url: string,
    key: WireKey,
    signal: AbortSignal | undefined,
  ): Promise<{ offset: number; result?: StoredObject }> {
    const response = await this.#storageFetch(url, {
      method: 'HEAD',
      headers: { ...key.headers, 'tus-resumable': TUS_VERSION },
      signal,
    });
    const offset = uploadOffset(response);
    const length = Number(response.headers.get('upload-length'));
    const metadata = parseUploadMetadata(response.headers.get('upload-metadata') ?? '');
    const sha256 = metadata['valet-sha256'];
    if (offset === length && sha256 !== undefined) {
      return {
        offset,
        result: {
          object: key.object,
          size: length,
          sha256,
          etag: metadata['valet-etag'] ?? `"${sha256}"`,
          content_type: metadata.filetype ?? 'application/octet-stream',
        },
      };
    }
    return { offset };
  }

  /** Asks for a key, and again if it would expire before the transfer starts. */
  async #freshKey(
    request: Record<string, unknown>,
    signal: AbortSignal | undefined,
    onRequest?: () => void,
  ): Promise<WireKey> {
    for (let i = 0; ; i++) {
      // No retry loop of its own: the transfer's loop retries the whole attempt.
      onRequest?.();
      const key = (await this.#issuerCall('POST', '/v1/keys', request, signal, 1)) as WireKey;
      if (Date.parse(key.expires_at) - this.#now() > EXPIRY_MARGIN_MS || i >= 1) return key;
    }
  }

  async #send(
    key: { url: string; method: string },
    headers: Record<string, string>,
    source: ReadableStream<Uint8Array>,
    total: number | undefined,
    onProgress: ((p: Progress) => void) | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    let loaded = 0;
    if (this.#options.fetch === undefined && isNode()) {
      // Node's fetch does not hold back a request body for a slow server (it buffers the rest in
      // memory): node:http does, so a large upload stays within a few MiB of memory.
      const response = await nodeSend(key.url, key.method, headers, source, signal, (n) => {
        loaded += n;
        onProgress?.({ loaded, ...(total !== undefined && { total }) });
      });
      if (!response.ok) throw await errorFrom(response);
      return response;
    }
    const counted = source.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          loaded += chunk.byteLength;
          onProgress?.({ loaded, ...(total !== undefined && { total }) });
          controller.enqueue(chunk);
        },
      }),
    );
    return this.#storageFetch(key.url, {
      method: key.method,
      headers,
      body: counted,
      signal,
      duplex: 'half',
    } as RequestInit);
  }

  /** An S3-style POST policy upload: the signed fields, then the file, as a multipart form. */
  async #sendForm(
    key: WireKey,
    blob: Blob,
    onProgress: (p: Progress) => void,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const response = await this.#storageFetch(key.url, { method: 'POST', body: formOf(key, blob), signal });
    onProgress({ loaded: blob.size, total: blob.size });
    return response;
  }

  /** A request to storage; a refusal becomes a {@link ValetError}. */
  async #storageFetch(url: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await this.#fetch(url, init);
    } catch (error) {
      throw networkError(error, init.signal);
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  async #issuerCall(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    attempts = this.#retries + 1,
  ): Promise<unknown> {
    return this.#withRetry(attempts, signal, async () => {
      const token = await this.#options.getToken();
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await this.#fetch(`${this.#issuer}${path}`, {
          method,
          headers,
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal,
        });
      } catch (error) {
        throw networkError(error, signal);
      }
      if (!response.ok) throw await errorFrom(response);
      if (response.status === 204) return undefined;
      return response.json();
    });
  }

  /**
   * Runs `attempt` up to `attempts` times: again after a network error or a 5xx (with backoff),
   * and after `token_expired` / `token_not_yet_valid` (the key expired before the transfer
   * started: the next attempt asks for a new one). Other refusals are thrown at once.
   */
  async #withRetry<T>(
    attempts: number,
    signal: AbortSignal | undefined,
    attempt: () => Promise<T>,
  ): Promise<T> {
    let delay = this.#retryDelay;
    for (let i = 1; ; i++) {
      if (signal?.aborted) throw new ValetError('aborted', 'the operation was aborted');
      try {
        return await attempt();
      } catch (error) {
        if (i >= attempts || !retryable(error) || signal?.aborted) throw error;
      }
      await sleep(delay * (0.5 + Math.random() / 2), signal);
      delay *= 2;
    }
  }
}

/** The part of the browser's XMLHttpRequest the client uses (the project compiles without the DOM lib). */
interface Xhr {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body: Blob | FormData): void;
  abort(): void;
  responseType: string;
  readonly responseText: string;
  readonly status: number;
  readonly upload: { onprogress: ((event: { loaded: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
type XhrConstructor = new () => Xhr;

function browserXhr(): XhrConstructor | undefined {
  return (globalThis as { XMLHttpRequest?: XhrConstructor }).XMLHttpRequest;
}

/** Browser upload with progress events; resolves with the response like fetch would. */
function sendWithXhr(
  key: { url: string; method: string; headers: Record<string, string>; fields?: Record<string, string> },
  blob: Blob,
  onProgress: ((p: Progress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const Xhr = browserXhr() as XhrConstructor;
    const xhr = new Xhr();
    xhr.open(key.method, key.url);
    // A form upload sets its own multipart Content-Type.
    if (!key.fields)
      for (const [name, value] of Object.entries(key.headers)) xhr.setRequestHeader(name, value);
    xhr.responseType = 'text';
    xhr.upload.onprogress = (event) => onProgress?.({ loaded: event.loaded, total: blob.size });
    const onAbort = () => xhr.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    xhr.onload = () => {
      signal?.removeEventListener('abort', onAbort);
      const headers: Record<string, string> = {
        'content-type': xhr.getResponseHeader('content-type') ?? 'application/json',
      };
      const offset = xhr.getResponseHeader('upload-offset');
      if (offset !== null) headers['upload-offset'] = offset;
      // A 204 (a tus chunk) has no body; Response refuses one for it.
      const response = new Response(xhr.status === 204 ? null : xhr.responseText, {
        status: xhr.status,
        headers,
      });
      if (response.ok) resolve(response);
      else void errorFrom(response).then(reject);
    };
    xhr.onerror = () => reject(new ValetError('network_error', 'the server could not be reached'));
    xhr.onabort = () => reject(new ValetError('aborted', 'the operation was aborted'));
    xhr.send(key.fields ? formOf(key, blob) : blob);
  });
}

const NODE_HTTP = 'node:http';
const NODE_HTTPS = 'node:https';

// The part of node:http the client uses (it compiles without Node's types, for browsers).
interface NodeRequest {
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(error?: Error): void;
  on(event: 'response', listener: (res: NodeResponse) => void): void;
  on(event: 'error' | 'drain' | 'close', listener: (error?: unknown) => void): void;
  once(event: 'drain' | 'close', listener: () => void): void;
  off(event: 'drain' | 'close', listener: () => void): void;
}
interface NodeResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  on(event: 'data', listener: (chunk: Uint8Array) => void): void;
  on(event: 'end' | 'error', listener: (error?: unknown) => void): void;
}
interface NodeHttp {
  request(
    url: string,
    options: { method: string; headers: Record<string, string>; signal?: AbortSignal },
  ): NodeRequest;
}

/**
 * Sends a request body with node:http(s), writing no faster than the server reads; resolves with
 * the answer as a web Response.
 */
async function nodeSend(
  url: string,
  method: string,
  headers: Record<string, string>,
  source: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
  onSent: (bytes: number) => void,
): Promise<Response> {
  const http = (await import(url.startsWith('https:') ? NODE_HTTPS : NODE_HTTP)) as NodeHttp;
  const reader = source.getReader();
  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      reader.cancel().catch(() => {});
      reject(networkError(error, signal));
    };
    let req: NodeRequest;
    try {
      req = http.request(url, { method, headers, ...(signal && { signal }) });
    } catch (error) {
      fail(error);
      return;
    }
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Uint8Array[] = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        reader.cancel().catch(() => {});
        const answer = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) answer.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        const status = res.statusCode ?? 502;
        const body = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
        let at = 0;
        for (const c of chunks) {
          body.set(c, at);
          at += c.byteLength;
        }
        resolve(new Response(status === 204 || status === 304 ? null : body, { status, headers: answer }));
      });
    });
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done || settled) break;
          onSent(value.byteLength);
          if (!req.write(value)) {
            await new Promise<void>((resume) => {
              const go = () => {
                req.off('drain', go);
                req.off('close', go);
                resume();
              };
              req.once('drain', go);
              req.once('close', go);
            });
          }
        }
        if (!settled) req.end();
      } catch (error) {
        req.destroy(error as Error);
        fail(error);
      }
    })();
  });
}

/** What a resumable upload carries from step to step. */
interface ResumableJob {
  blob: BlobLike;
  options: UploadOptions;
  /** Request-body bytes sent so far, to the issuer and to storage. */
  bytes: { toIssuer: number; toStorage: number };
  /** Drops the remembered upload (it finished, or it cannot continue). */
  forget: () => Promise<void>;
}

/**
 * Awaits an upload; if the caller aborted it and does not keep aborted uploads
 * (`keepOnAbort: false`), cancels it where it is stored (best effort) and forgets it.
 */
async function cancellingOnAbort<T>(
  job: ResumableJob,
  cancel: () => Promise<unknown>,
  work: Promise<T>,
): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (job.options.signal?.aborted && job.options.keepOnAbort === false) {
      await cancel().catch(() => {});
      await job.forget();
    }
    throw error;
  }
}

/** A tus answer's `Upload-Offset`. */
function uploadOffset(response: Response): number {
  const offset = Number(response.headers.get('upload-offset'));
  if (!Number.isSafeInteger(offset)) {
    void response.body?.cancel();
    throw new ValetError('internal_error', 'storage answered without an Upload-Offset');
  }
  return offset;
}

/** A browser File's identity (name, size, type, modification time); undefined for other data. */
function fileFingerprint(blob: BlobLike): string | undefined {
  const file = blob as BlobLike & { name?: unknown; lastModified?: unknown };
  if (typeof file.name !== 'string' || typeof file.lastModified !== 'number') return undefined;
  return `file:${file.name}:${blob.size}:${blob.type}:${file.lastModified}`;
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** tus `Upload-Metadata`: `key base64,key base64…`. */
function parseUploadMetadata(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of header.split(',')) {
    const [name, value] = pair.trim().split(' ');
    if (!name) continue;
    try {
      const binary = atob(value ?? '');
      out[name] = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    } catch {
      // A value that is not base64 is skipped.
    }
  }
  return out;
}

function toGrant(key: WireKey): Grant {
  return {
    id: key.id,
    op: key.op,
    object: key.object,
    expiresAt: key.expires_at,
    constraints: key.constraints ?? {},
  };
}

function retryable(error: unknown): boolean {
  if (!(error instanceof ValetError)) return false;
  return (
    error.code === 'network_error' ||
    error.code === 'token_expired' ||
    error.code === 'token_not_yet_valid' ||
    (error.status >= 500 && error.code !== 'invalid_options')
  );
}

function toBlob(data: Exclude<UploadData, ReadableStream<Uint8Array>>): BlobLike {
  if (data instanceof Blob || isBlobLike(data)) return data;
  if (typeof data === 'string') return new Blob([data], { type: 'text/plain;charset=utf-8' });
  if (data instanceof ArrayBuffer) return new Blob([data]);
  // A view on a SharedArrayBuffer cannot be a Blob part: copy it.
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Blob([data.buffer instanceof ArrayBuffer ? (view as Uint8Array<ArrayBuffer>) : view.slice()]);
}

function isBlobLike(data: unknown): data is BlobLike {
  const b = data as Partial<BlobLike> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.size === 'number' &&
    typeof b.slice === 'function' &&
    typeof b.stream === 'function'
  );
}

async function defaultDigest(blob: BlobLike): Promise<string> {
  if (blob.size > MAX_DEFAULT_DIGEST) {
    throw new ValetError(
      'invalid_options',
      'this Blob is too large to hash in memory; pass a digest function',
    );
  }
  const bytes =
    blob instanceof Blob ? await blob.arrayBuffer() : await new Response(blob.stream()).arrayBuffer();
  const hash = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('');
}

function networkError(error: unknown, signal: AbortSignal | null | undefined): ValetError {
  if (signal?.aborted) return new ValetError('aborted', 'the operation was aborted', { cause: error });
  return new ValetError('network_error', 'the server could not be reached', { cause: error });
}

/** A refusal as a {@link ValetError} with the server's stable code (or one derived from the status). */
async function errorFrom(response: Response): Promise<ValetError> {
  let code: ErrorCode | undefined;
  let message = `the server answered ${response.status}`;
  try {
    const body = (await response.json()) as Partial<ErrorBody>;
    if (body.error?.code && body.error.code in ERROR_STATUS) code = body.error.code as ErrorCode;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // Not a Valet error body (a proxy's page, say): keep the status.
  }
  code ??= codeForStatus(response.status);
  return new ValetError(code, message);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new ValetError('aborted', 'the operation was aborted'));
      },
      { once: true },
    );
  });
}
