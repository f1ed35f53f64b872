import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { contentTypeAllowed, type ValetClaims } from '../token/claims.js';
import { type ErrorCode, ValetError } from '../token/errors.js';
import { randomKeyId } from '../token/mint.js';
import { decodeObjectKeyPath, encodeObjectKeyPath, normalizeObjectKey } from '../token/object-key.js';
import { renderError } from '../wire/errors.js';
import type {
  Constraint,
  EnforcementTable,
  HeadResult,
  MultipartUploads,
  ObjectStream,
  SignedRequest,
  SignOptions,
  StorageDriver,
  StoredPart,
} from './types.js';

/** Options for {@link MemoryDriver}. */
export interface MemoryDriverOptions {
  /** The store's own clock, which it checks expiry against (ms). Default `Date.now`. */
  now?: () => number;
  /**
   * Constraints this store does not check, to exercise the issuer's own checks: size, type and
   * digest become `issuer` (verified at completion), the others `none`. Default: it checks all.
   */
  unchecked?: readonly Constraint[];
  /** The origin of its signed URLs. Default `http://memory.valet.invalid`. */
  origin?: string;
}

/** An object the memory store holds. */
export interface MemoryObject {
  bytes: Uint8Array;
  contentType: string;
  etag: string;
  sha256: string;
  /** When it was written, by the store's clock (ms). */
  modifiedAt: number;
}

/** What a signed URL allows: the operation and the constraints the store checks. */
interface Grant {
  op: 'put' | 'get' | 'delete' | 'part';
  obj: string;
  exp: number;
  jti: string;
  c: Partial<Pick<ValetClaims, 'size' | 'max_size' | 'min_size' | 'content_types' | 'sha256'>> & {
    once?: boolean;
    no_overwrite?: boolean;
    upload?: string;
    part?: number;
  };
}

const ORIGIN = 'http://memory.valet.invalid';
const CHECKED_BY_ISSUER: ReadonlySet<Constraint> = new Set([
  'size',
  'max_size',
  'min_size',
  'content_types',
  'sha256',
]);

/**
 * An object store in memory with presigned URLs, for unit tests: the issuer's driver paths
 * (completion checks, multipart uploads, enforcement) run against it without a port or a cloud.
 * Its signed URLs carry the constraints under an HMAC; {@link fetch} plays the store and
 * enforces them with its own clock, as S3 would. Not for production: nothing is persisted.
 *
 * @example
 * ```ts
 * const memory = new MemoryDriver()
 * const issuer = await createIssuer({ driver: memory, … })
 * const client = createClient({ issuer: url, getToken, fetch: (input, init) =>
 *   String(input).startsWith(memory.origin) ? memory.fetch(new Request(input, init)) : fetch(input, init) })
 * ```
 */
export class MemoryDriver implements StorageDriver {
  readonly name = 'memory';
  readonly completion = 'client';
  readonly origin: string;
  /** The objects, by key (for tests to look at). */
  readonly objects = new Map<string, MemoryObject>();
  readonly resumable: MultipartUploads;
  readonly #secret = randomBytes(32);
  readonly #now: () => number;
  readonly #unchecked: ReadonlySet<Constraint>;
  readonly #used = new Set<string>();
  readonly #uploads = new Map<
    string,
    { object: string; contentType: string; created: number; parts: Map<number, Uint8Array> }
  >();

  constructor(options: MemoryDriverOptions = {}) {
    this.origin = (options.origin ?? ORIGIN).replace(/\/+$/, '');
    this.#now = options.now ?? Date.now;
    this.#unchecked = new Set(options.unchecked ?? []);
    this.resumable = {
      protocol: 's3-multipart',
      partLength: 'store',
      create: async ({ object, contentType }, context) => {
        const id = randomKeyId();
        this.#uploads.set(id, {
          object: normalizeObjectKey(object),
          contentType: contentType ?? 'application/octet-stream',
          created: context.now,
          parts: new Map(),
        });
        return id;
      },
      signPart: async ({ object, uploadId, partNumber, size, ttl }, context) =>
        this.#signed('PUT', {
          op: 'part',
          obj: normalizeObjectKey(object),
          exp: Math.floor(context.now / 1000) + ttl,
          jti: randomKeyId(),
          c: { size, upload: uploadId, part: partNumber },
        }),
      listParts: async (_object, uploadId) =>
        [...this.#upload(uploadId).parts].sort(([a], [b]) => a - b).map(([n, bytes]) => part(n, bytes)),
      complete: async ({ uploadId, expectedSize }) => this.#complete(uploadId, expectedSize),
      abort: async (_object, uploadId) => {
        this.#upload(uploadId);
        this.#uploads.delete(uploadId);
      },
      abortStale: async (olderThan) => {
        const stale = [...this.#uploads].filter(([, u]) => u.created < olderThan).map(([id]) => id);
        for (const id of stale) this.#uploads.delete(id);
        return stale.length;
      },
    };
  }

  enforcement(): EnforcementTable {
    const by = (c: Constraint) =>
      !this.#unchecked.has(c) ? 'store' : CHECKED_BY_ISSUER.has(c) ? 'issuer' : 'none';
    return {
      max_size: by('max_size'),
      min_size: by('min_size'),
      size: by('size'),
      content_types: by('content_types'),
      sha256: by('sha256'),
      once: by('once'),
      no_overwrite: by('no_overwrite'),
      revocation: 'none',
      expiry: by('expiry'),
    };
  }

  async sign(claims: ValetClaims, options: SignOptions): Promise<SignedRequest> {
    const { op, obj, exp, jti } = claims;
    if (op === 'head' || op === 'publish') {
      throw new ValetError('invalid_options', `the memory store signs no ${op} requests`);
    }
    const c: Grant['c'] = {
      ...(claims.size !== undefined && { size: claims.size }),
      ...(claims.max_size !== undefined && { max_size: claims.max_size }),
      ...(claims.min_size !== undefined && { min_size: claims.min_size }),
      ...(claims.content_types !== undefined && { content_types: claims.content_types }),
      ...(claims.sha256 !== undefined && { sha256: claims.sha256 }),
      ...(claims.once && { once: true }),
      ...(claims.no_overwrite && { no_overwrite: true }),
    };
    const signed = this.#signed(op === 'put' ? 'PUT' : op === 'get' ? 'GET' : 'DELETE', {
      op,
      obj,
      exp,
      jti,
      c,
    });
    if (op === 'put' && options.contentType !== undefined)
      signed.headers['content-type'] = options.contentType;
    return signed;
  }

  async head(object: string): Promise<HeadResult | undefined> {
    const found = this.objects.get(normalizeObjectKey(object));
    return (
      found && {
        size: found.bytes.byteLength,
        contentType: found.contentType,
        etag: found.etag,
        sha256: found.sha256,
        modifiedAt: found.modifiedAt,
      }
    );
  }

  async delete(object: string): Promise<void> {
    this.objects.delete(normalizeObjectKey(object));
  }

  async read(
    object: string,
    _context?: unknown,
    options: { etag?: string } = {},
  ): Promise<ObjectStream | undefined> {
    const found = this.objects.get(normalizeObjectKey(object));
    if (!found || (options.etag !== undefined && options.etag !== found.etag)) return undefined;
    return { body: Readable.from([found.bytes]), size: found.bytes.byteLength, etag: found.etag };
  }

  /** The store: answers a request made with one of its signed URLs (web-standard, no port). */
  readonly fetch = async (request: Request): Promise<Response> => {
    try {
      return await this.#serve(request);
    } catch (error) {
      const rendered = renderError(error);
      return new Response(rendered.body, { status: rendered.status, headers: rendered.headers });
    }
  };

  async #serve(request: Request): Promise<Response> {
    const grant = this.#verify(new URL(request.url), request.method);
    if (grant.op === 'get') {
      const found = this.#stored(grant.obj);
      this.#consumeOnce(grant);
      return new Response(found.bytes, { headers: { 'content-type': found.contentType, etag: found.etag } });
    }
    if (grant.op === 'delete') {
      this.#stored(grant.obj);
      this.#consumeOnce(grant);
      this.objects.delete(grant.obj);
      return new Response(null, { status: 204 });
    }
    const bytes = new Uint8Array(await request.arrayBuffer());
    const contentType = request.headers.get('content-type') ?? 'application/octet-stream';
    this.#checkBody(grant, bytes, contentType);
    this.#consumeOnce(grant);
    if (grant.op === 'part') {
      this.#upload(grant.c.upload ?? '').parts.set(grant.c.part ?? 0, bytes);
      return new Response(null, { status: 200, headers: { etag: `"${sha256Hex(bytes)}"` } });
    }
    const stored = store(bytes, contentType, this.#now());
    this.objects.set(grant.obj, stored);
    return new Response(null, { status: 200, headers: { etag: stored.etag } });
  }

  #signed(method: SignedRequest['method'], grant: Grant): SignedRequest {
    const payload = Buffer.from(JSON.stringify(grant)).toString('base64url');
    const sig = createHmac('sha256', this.#secret).update(`${method}\n${payload}`).digest('base64url');
    return {
      method,
      url: `${this.origin}/${encodeObjectKeyPath(grant.obj)}?g=${payload}&sig=${sig}`,
      headers: {},
    };
  }

  #verify(url: URL, method: string): Grant {
    const payload = url.searchParams.get('g') ?? '';
    const sig = Buffer.from(url.searchParams.get('sig') ?? '', 'base64url');
    const expected = createHmac('sha256', this.#secret).update(`${method}\n${payload}`).digest();
    if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) {
      throw new ValetError('token_invalid', 'the signature does not match');
    }
    const grant = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Grant;
    if (decodeObjectKeyPath(url.pathname.slice(1)) !== grant.obj) {
      throw new ValetError('scope_mismatch', 'the signed request is for another object');
    }
    if (this.#checks('expiry') && this.#now() >= grant.exp * 1000) {
      throw new ValetError('token_expired', 'the signed request has expired');
    }
    return grant;
  }

  #checkBody(grant: Grant, bytes: Uint8Array, contentType: string): void {
    const { c } = grant;
    const size = bytes.byteLength;
    const refuse = (constraint: Constraint, code: ErrorCode, message: string) => {
      if (this.#checks(constraint)) throw new ValetError(code, message);
    };
    if (c.size !== undefined && size !== c.size)
      refuse('size', 'entity_too_large', `the body is not ${c.size} bytes`);
    if (c.max_size !== undefined && size > c.max_size)
      refuse('max_size', 'entity_too_large', 'the body is too large');
    if (c.min_size !== undefined && size < c.min_size)
      refuse('min_size', 'entity_too_small', 'the body is too small');
    if (c.content_types && !contentTypeAllowed(contentType, c.content_types)) {
      refuse('content_types', 'unsupported_media_type', 'this type is not allowed');
    }
    if (c.sha256 !== undefined && sha256Hex(bytes) !== c.sha256)
      refuse('sha256', 'bad_digest', 'the digest differs');
    if (c.no_overwrite && this.objects.has(grant.obj)) {
      refuse('no_overwrite', 'precondition_failed', 'the object already exists');
    }
  }

  #consumeOnce(grant: Grant): void {
    if (!grant.c.once || !this.#checks('once')) return;
    if (this.#used.has(grant.jti)) throw new ValetError('token_replayed', 'this request was already used');
    this.#used.add(grant.jti);
  }

  #checks(constraint: Constraint): boolean {
    return !this.#unchecked.has(constraint);
  }

  #stored(object: string): MemoryObject {
    const found = this.objects.get(object);
    if (!found) throw new ValetError('not_found', 'no such object');
    return found;
  }

  #upload(id: string) {
    const upload = this.#uploads.get(id);
    if (!upload) throw new ValetError('not_found', 'no such multipart upload');
    return upload;
  }

  #complete(uploadId: string, expectedSize: number): void {
    const upload = this.#upload(uploadId);
    const parts = [...upload.parts].sort(([a], [b]) => a - b).map(([, bytes]) => bytes);
    const total = parts.reduce((sum, p) => sum + p.byteLength, 0);
    if (parts.length === 0 || total !== expectedSize) {
      this.#uploads.delete(uploadId);
      throw new ValetError(
        'upload_rejected',
        `the parts hold ${total} bytes, not ${expectedSize}: the upload was aborted`,
      );
    }
    this.objects.set(upload.object, store(Buffer.concat(parts), upload.contentType, this.#now()));
    this.#uploads.delete(uploadId);
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function store(bytes: Uint8Array, contentType: string, modifiedAt: number): MemoryObject {
  const sha256 = sha256Hex(bytes);
  return { bytes, contentType, etag: `"${sha256}"`, sha256, modifiedAt };
}

function part(partNumber: number, bytes: Uint8Array): StoredPart {
  return { partNumber, etag: `"${sha256Hex(bytes)}"`, size: bytes.byteLength };
}
