import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ValetClaims } from '../token/claims.js';
import { ValetError } from '../token/errors.js';
import { keyUrl } from '../token/mint.js';
import { type CheckResult, notOk, ok, type ReadinessBody } from '../wire/readiness.js';
import { UPLOADS_PATH } from '../wire/storage-api.js';
import {
  CONSTRAINTS,
  type DriverContext,
  type EnforcementTable,
  type HeadResult,
  type ObjectStream,
  type SignedRequest,
  type SignOptions,
  type StorageDriver,
  type TusUploads,
} from './types.js';

/** Options for {@link ValetStorageDriver}. */
export interface ValetStorageDriverOptions {
  /** Valet storage's base URL as clients reach it, e.g. `https://files.example.com`. */
  url: string;
  /** The fetch for the issuer's own reads and deletions. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Time allowed for one of the issuer's own requests to storage, ms. Default 10 000. */
  timeout?: number;
}

const OP_METHOD = { put: 'PUT', get: 'GET', head: 'HEAD', delete: 'DELETE', publish: 'POST' } as const;
const SHA256_ETAG = /^"([0-9a-f]{64})"$/;

/**
 * Valet's own storage, as a driver: a key is a valet key (an Ed25519-signed token the issuer
 * makes), which storage verifies itself on every request, so it enforces every constraint,
 * revocation included. Storage reports committed uploads and deletions with signed events.
 * Resumable uploads are tus 1.0 at `{url}/uploads`, with the key in `Authorization`.
 *
 * `createIssuer({ storageUrl })` is a shorthand for `driver: new ValetStorageDriver({ url })`.
 *
 * @example
 * ```ts
 * const issuer = await createIssuer({ driver: new ValetStorageDriver({ url: 'http://127.0.0.1:9000' }), … })
 * ```
 */
export class ValetStorageDriver implements StorageDriver {
  readonly name = 'valet';
  readonly completion = 'events';
  readonly resumable: TusUploads = { protocol: 'tus' };
  readonly url: string;
  readonly #fetch: typeof globalThis.fetch;
  readonly #timeout: number;

  constructor(options: ValetStorageDriverOptions) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(options?.url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol)) {
      throw new ValetError('invalid_options', 'Valet storage needs an http(s) URL');
    }
    this.url = options.url.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeout = options.timeout ?? 10_000;
  }

  /** Storage checks every constraint of a valet key itself, on every request. */
  enforcement(): EnforcementTable {
    return Object.fromEntries(CONSTRAINTS.map((constraint) => [constraint, 'store'])) as EnforcementTable;
  }

  /**
   * The request for a key: `{url}/o/<object>?vk=<key>`, or for a resumable upload the tus
   * creation (`POST {url}/uploads`) or the upload's address (`PATCH {url}/uploads/<id>`), the key
   * in the `Authorization` header of every request of the upload.
   */
  async sign(claims: ValetClaims, options: SignOptions): Promise<SignedRequest> {
    const token = await options.valetKey();
    if (claims.resumable || claims.upload !== undefined) {
      return {
        method: claims.resumable ? 'POST' : 'PATCH',
        url: `${this.url}${UPLOADS_PATH}${claims.resumable ? '' : `/${claims.upload}`}`,
        headers: { authorization: `Bearer ${token}` },
      };
    }
    const { contentType } = options;
    return {
      method: OP_METHOD[claims.op],
      url: keyUrl(this.url, claims.obj, token),
      headers: claims.op === 'put' && contentType !== undefined ? { 'content-type': contentType } : {},
    };
  }

  /** `HEAD` with a head key the issuer made for it. */
  async head(object: string, context: DriverContext): Promise<HeadResult | undefined> {
    const response = await this.#send('HEAD', object, await context.issuerKey('head', object));
    if (response.status === 404) return undefined;
    if (!response.ok) throw refused('read', response.status);
    const etag = response.headers.get('etag') ?? '';
    const sha256 = SHA256_ETAG.exec(etag)?.[1];
    return {
      size: Number(response.headers.get('content-length') ?? 0),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      etag,
      ...(sha256 !== undefined && { sha256 }),
    };
  }

  /** `DELETE` with a single-use delete key the issuer made for it (storage reports it as an event). */
  async delete(object: string, context: DriverContext): Promise<void> {
    const response = await this.#send('DELETE', object, await context.issuerKey('delete', object));
    if (!response.ok && response.status !== 404) throw refused('remove', response.status);
  }

  /** `GET` (with `If-Match` for a version) with a read key the issuer made: held versions too. */
  async read(
    object: string,
    context: DriverContext,
    options: { etag?: string } = {},
  ): Promise<ObjectStream | undefined> {
    const token = await context.issuerKey('get', object);
    const headers = options.etag === undefined ? undefined : { 'if-match': options.etag };
    const response = await this.#send('GET', object, token, { headers, keepBody: true });
    if (response.status === 404 || response.status === 412) {
      await response.body?.cancel();
      return undefined;
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw refused('read', response.status);
    }
    return {
      body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      size: Number(response.headers.get('content-length') ?? 0),
      etag: response.headers.get('etag') ?? '',
    };
  }

  /** `POST` with a single-use publish key for the version: storage serves it from now on. */
  async publish(object: string, version: string, context: DriverContext): Promise<'published' | 'replaced'> {
    const response = await this.#send('POST', object, await context.issuerKey('publish', object, version));
    if (response.status === 204) return 'published';
    if (response.status === 404 || response.status === 412) return 'replaced';
    throw refused('publish', response.status);
  }

  /**
   * Storage's own readiness (`GET /readyz`): failing when it does not answer, or when what fails
   * there is its link to this issuer (the secrets differ, a wrong URL): the pair is misconfigured.
   * Storage not ready for another reason (no trusted keys yet, its disk) is degraded here: storage
   * gets its keys and revocations from the issuer, so a balancer that took the issuer out for it
   * would keep storage waiting for good (both would stay out).
   */
  async ready(): Promise<CheckResult> {
    let response: Response;
    try {
      response = await this.#fetch(`${this.url}/readyz`, {
        signal: AbortSignal.timeout(Math.min(this.#timeout, 5_000)),
      });
    } catch {
      return notOk('failing', `Valet storage at ${this.url} does not answer`);
    }
    const body = (await response.json().catch(() => undefined)) as Partial<ReadinessBody> | undefined;
    if (!body?.status || !body.checks) {
      return notOk(
        'failing',
        `${this.url}/readyz answered ${response.status}, not storage's readiness: is it Valet storage?`,
      );
    }
    const problems = (names: string[] | undefined) =>
      (names ?? []).map((name) => `${name}: ${body.checks?.[name]?.problem ?? 'not ok'}`).join('; ');
    if (body.status === 'unready') {
      const link = (body.failing ?? []).includes('issuer');
      return notOk(link ? 'failing' : 'degraded', `Valet storage is not ready (${problems(body.failing)})`);
    }
    if (body.status === 'degraded')
      return notOk('degraded', `Valet storage is degraded (${problems(body.degraded)})`);
    return ok();
  }

  async #send(
    method: 'HEAD' | 'GET' | 'DELETE' | 'POST',
    object: string,
    token: string,
    options: { headers?: Record<string, string> | undefined; keepBody?: boolean } = {},
  ): Promise<Response> {
    let response: Response;
    // A read streams for as long as its body takes: only its answer's head is timed.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeout);
    try {
      response = await this.#fetch(keyUrl(this.url, object, token), {
        method,
        ...(options.headers && { headers: options.headers }),
        signal: controller.signal,
      });
    } catch (cause) {
      throw new ValetError('unavailable', 'Valet storage could not be reached', { cause });
    } finally {
      clearTimeout(timer);
    }
    if (!options.keepBody) await response.body?.cancel();
    return response;
  }
}

/** The issuer cannot do its own part right now: a 503 to whoever asked (storage retries events). */
function refused(what: string, status: number): ValetError {
  return new ValetError('unavailable', `storage refused to ${what} an object (${status})`);
}
