import { ValetError } from '../token/errors.js';
import type { KeyRequestBody } from '../wire/issuer-api.js';
import { grantOf, type KeyBody, type UploadCheck } from '../wire/keys.js';
import type { Me } from '../wire/me.js';
import type { DeletedObjectBody, ObjectPage } from '../wire/objects.js';
import type { ShareLink, ShareList } from '../wire/shares.js';
import { defaultDigest, fileName, keptFileName, toBlob } from './blob.js';
import { type ClientContext, clientContext } from './context.js';
import { freshKey, issuerAnswer, issuerCall } from './issuer-api.js';
import type { ResumeStore } from './resume.js';
import { withRetry } from './retry.js';
import type { ByteCount, Sent, UploadJob } from './strategies/job.js';
import { type ResumeMemory, uploadResumable } from './strategies/resumable.js';
import { storedAnswer, uploadInOne } from './strategies/single.js';
import { storageFetch } from './transports/send.js';
import type {
  BlobLike,
  ClientOptions,
  Download,
  ObjectInfo,
  Progress,
  ReadUrl,
  Share,
  UploadData,
  UploadOptions,
  UploadResult,
} from './types.js';
import { awaitVerdict, verdictError } from './validation.js';

export {
  fileResumeStore,
  localStorageResumeStore,
  memoryResumeStore,
  type ResumeStore,
  type SavedUpload,
} from './resume.js';
export type * from './types.js';

/**
 * Creates a Valet client: asks the issuer for narrow keys and moves bytes straight to storage.
 * Zero runtime dependencies; runs in browsers and Node.
 *
 * @example
 * ```ts
 * const valet = createClient({ issuer: 'http://127.0.0.1:8080', getToken: () => session.token })
 * const { object } = await valet.upload(file, { name: file.name, onProgress: (p) => bar(p.loaded / p.total!) })
 * const link = await valet.share(object, { ttl: 600 })
 * ```
 */
export function createClient(options: ClientOptions): ValetClient {
  return new ValetClient(options);
}

/**
 * The Valet client: a facade over the issuer's API and the transfer strategies (one request, tus,
 * multipart) in `strategies/`, which send through the transports in `transports/`. Create it with
 * {@link createClient}.
 */
export class ValetClient {
  readonly #ctx: ClientContext;
  readonly #resume: ResumeMemory;

  constructor(options: ClientOptions) {
    this.#ctx = clientContext(options);
    this.#resume = { store: options.resumeStore as ResumeStore | null | undefined };
  }

  /**
   * Uploads `data` straight to storage with a key from the issuer. From the resumable threshold a
   * Blob goes as a resumable upload (in chunks, resumed after failures and restarts); otherwise in
   * one request, retried after transient failures with a fresh key (a Blob is re-sent from the
   * start; a stream cannot be, so it is sent once).
   */
  async upload(data: UploadData, options: UploadOptions = {}): Promise<UploadResult> {
    const isStream = typeof ReadableStream !== 'undefined' && data instanceof ReadableStream;
    const blob: BlobLike | undefined = isStream
      ? undefined
      : toBlob(data as Exclude<UploadData, ReadableStream<Uint8Array>>);
    const sha256 = await this.#digest(blob, options.sha256);
    const request: KeyRequestBody = { ...putRequest(blob, options), ...(sha256 !== undefined && { sha256 }) };
    const bytes: ByteCount = { toIssuer: 0, toStorage: 0 };
    const job: UploadJob = { ctx: this.#ctx, request, options, bytes };
    let sent: Sent | undefined;
    if (blob && (options.resumable ?? blob.size >= this.#ctx.threshold)) {
      // A store without resumable uploads (the issuer says so at once): one request instead.
      sent = await uploadResumable(job, blob, this.#resume).catch((error: unknown) => {
        if (error instanceof ValetError && error.code === 'resumable_unsupported') return undefined;
        throw error;
      });
    }
    sent ??= await uploadInOne(job, blob ?? (data as ReadableStream<Uint8Array>));
    const { result, key } = sent;
    // A store that keeps no checksum (some S3 engines) reports none: nothing to compare then.
    if (sha256 !== undefined && result.sha256 && result.sha256 !== sha256) {
      throw new ValetError('bad_digest', 'storage stored a body with another SHA-256');
    }
    const uploaded: UploadResult = {
      object: result.object,
      key: result.object,
      size: result.size,
      sha256: result.sha256,
      etag: result.etag,
      contentType: result.contentType,
      grant: grantOf(key),
      ...(key.upload && { upload: key.upload.id }),
      bytes,
    };
    if (result.validation !== 'pending') return uploaded;
    return this.#validated(uploaded, key.upload?.id ?? key.id, options);
  }

  /** An upload its rule validates: the verdict awaited (default), or promised with the result. */
  async #validated(uploaded: UploadResult, id: string, options: UploadOptions): Promise<UploadResult> {
    options.onValidation?.({ object: uploaded.object, status: 'pending' });
    const verdict = awaitVerdict(this.#ctx, id, options.signal).then((state) => {
      options.onValidation?.(state);
      return state;
    });
    if (options.awaitValidation === false) {
      // Awaited by the caller, or not: never an unhandled rejection.
      verdict.catch(() => {});
      return { ...uploaded, validation: 'pending', verdict };
    }
    const error = verdictError(await verdict);
    if (error) throw error;
    return uploaded;
  }

  /**
   * Asks the issuer whether uploading `data` with these options would be allowed (the rule, size,
   * type and quota as they stand), without a key: refused as {@link upload} would be, before any
   * time goes into the file (hashing it, say). Resolves with the object it would be stored as.
   *
   * @example
   * ```ts
   * await valet.checkUpload(file) // throws quota_exceeded, entity_too_large… with the reason
   * ```
   */
  async checkUpload(
    data: { size: number; type?: string; name?: string },
    options: Pick<UploadOptions, 'name' | 'rule' | 'contentType' | 'metadata' | 'signal'> = {},
  ): Promise<{ object: string /** @deprecated `object`, for one release. */; key: string; rule: string }> {
    const body = await issuerCall<UploadCheck>(
      this.#ctx,
      'POST',
      '/v1/keys/check',
      putRequest(data, options),
      options.signal,
    );
    return { object: body.object, key: body.object, rule: body.rule };
  }

  /** The SHA-256 to bind: given (hex), computed here (`true`), or none. */
  async #digest(
    blob: BlobLike | undefined,
    sha256: boolean | string | undefined,
  ): Promise<string | undefined> {
    if (typeof sha256 === 'string') return sha256.toLowerCase();
    if (sha256 !== true) return undefined;
    if (!blob)
      throw new ValetError('bad_request', 'a stream cannot be hashed before it is sent; pass the SHA-256');
    return (this.#ctx.options.digest ?? defaultDigest)(blob);
  }

  /**
   * A URL that reads `object` straight from storage for a short time: for `<img>`, `<video>`, or a
   * download link (`disposition: 'attachment'`, with an optional file name). Storage decides what
   * shows inline (raster images, audio, video, PDF); everything else downloads.
   */
  async readUrl(
    object: string,
    options: { disposition?: 'attachment'; filename?: string; signal?: AbortSignal } = {},
  ): Promise<ReadUrl> {
    const minted = await issuerCall<KeyBody>(
      this.#ctx,
      'POST',
      '/v1/keys',
      {
        op: 'get',
        object,
        ...(options.disposition !== undefined && { disposition: options.disposition }),
        ...(options.filename !== undefined && { filename: options.filename }),
      },
      options.signal,
    );
    return { url: minted.url, expiresAt: minted.expires_at };
  }

  /** The caller's share links that still work. */
  async shares(
    options: { signal?: AbortSignal } = {},
  ): Promise<Array<Omit<Share, 'url'> & { createdAt: string }>> {
    const list = await issuerAnswer<ShareList>(this.#ctx, 'GET', '/v1/shares', undefined, options.signal);
    return list.shares.map((s) => ({ ...s, key: s.object }));
  }

  /** Downloads an object straight from storage. */
  async download(
    object: string,
    options: { signal?: AbortSignal; onProgress?: (p: Progress) => void } = {},
  ): Promise<Download> {
    const { signal, onProgress } = options;
    const response = await withRetry(this.#ctx, this.#ctx.retries + 1, signal, async () => {
      const minted = await freshKey(this.#ctx, { op: 'get', object }, signal);
      return storageFetch(this.#ctx, minted.url, { method: 'GET', signal });
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
      object,
      key: object,
      body: stream,
      size,
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      etag: response.headers.get('etag') ?? '',
      blob: () => new Response(stream).blob(),
    };
  }

  /** Deletes an object (with a single-use delete key). */
  async delete(object: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await withRetry(this.#ctx, this.#ctx.retries + 1, options.signal, async () => {
      const minted = await freshKey(this.#ctx, { op: 'delete', object }, options.signal);
      const response = await storageFetch(this.#ctx, minted.url, {
        method: 'DELETE',
        signal: options.signal,
      });
      // Valet storage answers with the receipt of its deletion event: passed on, the issuer's
      // listing drops the object before this returns. Another store (S3…) sends the issuer no
      // event: report the deletion, the issuer checks it. Valet storage with no issuer: nothing.
      const answer = await storedAnswer<DeletedObjectBody>(response);
      if (!minted.complete || (answer !== undefined && answer.receipt === undefined)) return;
      const body = answer ? { receipt: answer.receipt } : {};
      await issuerCall(this.#ctx, 'POST', minted.complete, body, options.signal, this.#ctx.retries + 1);
    });
  }

  /** The caller's objects (those under `prefix`), every page of them, from the issuer's registry. */
  async list(options: { prefix?: string; signal?: AbortSignal } = {}): Promise<ObjectInfo[]> {
    const all: ObjectInfo[] = [];
    let after: string | undefined;
    do {
      const page = await this.listPage({ ...options, ...(after !== undefined && { after }) });
      all.push(...page.objects);
      after = page.next ?? undefined;
    } while (after !== undefined);
    return all;
  }

  /**
   * One page of the caller's objects: keys under `prefix`, after the key `after`, in bytewise
   * order, at most `limit` (the issuer's most: 1,000). `next` is the `after` of the next page.
   */
  async listPage(
    options: { prefix?: string; after?: string; limit?: number; signal?: AbortSignal } = {},
  ): Promise<{ objects: ObjectInfo[]; next: string | null }> {
    const query = new URLSearchParams();
    if (options.prefix) query.set('prefix', options.prefix);
    if (options.after !== undefined) query.set('after', options.after);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const search = query.toString();
    const path = `/v1/objects${search ? `?${search}` : ''}`;
    return issuerAnswer<ObjectPage>(this.#ctx, 'GET', path, undefined, options.signal);
  }

  /** Who the caller is, the issuer's rules with their limits (as they apply to the caller), and the caller's quota and usage. */
  async me(options: { signal?: AbortSignal } = {}): Promise<Me> {
    return issuerAnswer<Me>(this.#ctx, 'GET', '/v1/me', undefined, options.signal);
  }

  /**
   * Admins only: revokes one key (`key`: its id), every key of a subject issued before `before`
   * (`subject`; ms since the epoch, default now), or every key a signing key signed
   * (`signing_key`: its `kid`). Storage refuses them within its revocation delay.
   */
  async revoke(
    kind: 'key' | 'subject' | 'signing_key',
    value: string,
    options: { before?: number; signal?: AbortSignal } = {},
  ): Promise<void> {
    const body = { kind, value, ...(options.before !== undefined && { before: options.before }) };
    await issuerCall(this.#ctx, 'POST', '/v1/revocations', body, options.signal);
  }

  /** Creates a download link for one of the caller's objects, valid for `ttl` seconds. */
  async share(object: string, options: { ttl: number; signal?: AbortSignal }): Promise<Share> {
    const link = await issuerAnswer<ShareLink>(
      this.#ctx,
      'POST',
      '/v1/shares',
      { object, ttl: options.ttl },
      options.signal,
    );
    return { ...link, key: link.object };
  }

  /** Revokes a share link: it stops working at once, and keys it handed out soon after. */
  async unshare(id: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await issuerCall(this.#ctx, 'DELETE', `/v1/shares/${encodeURIComponent(id)}`, undefined, options.signal);
  }
}

/**
 * The key request of an upload of `source` (no SHA-256: that comes later, if at all). A file keeps
 * its name unless the caller gives another, as the drop zone, Uppy and the CLI do; its own name is
 * kept with the object either way (listed, the default download name).
 */
function putRequest(
  source: { size: number; type?: string; name?: string } | undefined,
  options: Pick<UploadOptions, 'name' | 'rule' | 'contentType' | 'metadata'>,
): KeyRequestBody {
  const contentType = options.contentType ?? (source?.type ? source.type : undefined);
  const filename = source && keptFileName(fileName(source));
  const name = options.name ?? filename;
  return {
    op: 'put',
    ...(options.rule !== undefined && { rule: options.rule }),
    ...(name !== undefined && { name }),
    ...(filename !== undefined && { filename }),
    ...(options.metadata !== undefined && { metadata: options.metadata }),
    ...(source && { size: source.size }),
    ...(contentType !== undefined && { content_type: contentType }),
  };
}
