import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { ValetClaims } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { normalizeObjectKey } from '../../token/object-key.js';
import { type CheckResult, notOk, ok } from '../../wire/readiness.js';
import { isInlineType, safeResponseType } from '../../wire/serving.js';
import type {
  EnforcementTable,
  HeadResult,
  MultipartUploads,
  ObjectStream,
  SignedRequest,
  SignOptions,
  StorageDriver,
  StoredPart,
} from '../types.js';
import { refuseCopies } from './bucket-policy.js';
import {
  abortMultipart,
  abortStaleMultiparts,
  completeMultipart,
  createMultipart,
  listParts,
} from './multipart.js';

import {
  type PresignedRequest,
  presignDelete,
  presignGet,
  presignPart,
  presignPost,
  presignPut,
} from './presign.js';

export type { PresignedRequest } from './presign.js';

/** Options for {@link S3Driver}. */
export interface S3DriverOptions {
  /** The bucket objects live in. */
  bucket: string;
  /** Region. Default `us-east-1` (Ceph RGW and MinIO accept it; R2 wants `auto`). */
  region?: string;
  /** The S3 endpoint, for anything but AWS (Ceph RGW, MinIO, R2). */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`): needed by Ceph RGW and MinIO. Default false. */
  forcePathStyle?: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Whether the engine verifies `x-amz-checksum-sha256` on a presigned PUT (AWS S3 and MinIO do;
   * Ceph RGW 16 does not). Default true. When false, a digest bound by a rule is checked by
   * nobody, and minting under such a rule is refused unless the rule accepts it.
   */
  checksums?: boolean;
}

export { safeResponseType } from '../../wire/serving.js';

function base64ToHex(b64: string): string {
  return Buffer.from(b64, 'base64').toString('hex');
}

/**
 * The S3 driver: native presigned requests for AWS S3, Ceph RGW, MinIO or R2, so clients talk to
 * the engine directly under the issuer's rules.
 *
 * - Exact size known: a presigned `PUT` that signs `content-length`, `content-type` and, when a
 *   digest is bound, `x-amz-checksum-sha256`: the engine refuses any other body.
 * - Only a maximum known: a presigned `POST` policy with `content-length-range`, the exact key
 *   and the content type.
 * - Reads: a presigned `GET` that signs `response-content-disposition` and `response-content-type`.
 * - Deletes: a presigned `DELETE`.
 * - Resumable uploads: multipart, each part's `PUT` presigned on demand with its exact length.
 *
 * Requests are dated by the issuer's clock (`SignOptions.now`), never the machine's. The
 * presigning client is created with `requestChecksumCalculation: 'WHEN_REQUIRED'`, so no
 * checksum of an empty body is added to upload URLs (real S3 would then refuse real uploads).
 *
 * @example
 * ```ts
 * const s3 = new S3Driver({ bucket: 'uploads', endpoint: 'http://127.0.0.1:7480', forcePathStyle: true,
 *   credentials: { accessKeyId, secretAccessKey }, checksums: false })
 * const issuer = await createIssuer({ driver: s3, … })
 * ```
 */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly completion = 'client';
  readonly bucket: string;
  readonly client: S3Client;
  readonly resumable: MultipartUploads;
  readonly #checksums: boolean;

  constructor(options: S3DriverOptions) {
    if (!options?.bucket) throw new ValetError('invalid_options', 'the S3 driver needs a bucket');
    if (!options.credentials?.accessKeyId || !options.credentials.secretAccessKey) {
      throw new ValetError('invalid_options', 'the S3 driver needs credentials');
    }
    this.bucket = options.bucket;
    this.#checksums = options.checksums ?? true;
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.resumable = {
      protocol: 's3-multipart',
      partLength: 'store',
      create: (o) => this.createMultipart(o),
      signPart: (o, context) => this.presignPart({ ...o, now: context.now }),
      listParts: (object, uploadId) => this.listParts(object, uploadId),
      complete: (o) => this.completeMultipart(o),
      abort: (object, uploadId) => this.abortMultipart(object, uploadId),
      abortStale: (olderThan) => this.abortStaleMultiparts(new Date(olderThan)),
    };
  }

  /**
   * Who enforces each constraint on this driver. `store`: the engine refuses a request that
   * breaks it. `issuer`: checked when the upload completes (the object is deleted if it breaks
   * it). `none`: nobody can; a rule that sets it must say it accepts that.
   */
  enforcement(): EnforcementTable {
    return {
      max_size: 'store',
      min_size: 'store',
      size: 'store',
      content_types: 'store',
      sha256: this.#checksums ? 'store' : 'none',
      // A presigned URL works until it expires, as often as it is used.
      once: 'none',
      // Conditional writes (If-None-Match) are not in every engine's presigned PUT.
      no_overwrite: 'none',
      // A presigned URL cannot be revoked before it expires (short lifetimes are the mitigation).
      revocation: 'none',
      expiry: 'store',
    };
  }

  /**
   * The presigned request for a key's claims: PUT when the exact size is known, POST with a size
   * range otherwise; GET with safe download headers; DELETE. Lifetime: the claims' `exp`.
   */
  async sign(claims: ValetClaims, options: SignOptions): Promise<SignedRequest> {
    const now = options.now;
    const ttl = Math.max(1, claims.exp - Math.floor(now / 1000));
    if (claims.op === 'put') return this.#signPut(claims, options.contentType, ttl, now);
    if (claims.op === 'delete') return this.presignDelete({ object: claims.obj, ttl, now });
    // The engine answers with the type signed here, never the uploader's own: the recorded type
    // if it is safe to show (raster images, audio, video, PDF: shown inline, as Valet storage
    // does, unless the key asks for a download), else a download of application/octet-stream.
    const contentType = safeResponseType(await options.objectType());
    return this.presignGet({
      object: claims.obj,
      ttl,
      now,
      disposition: (claims.inline ?? isInlineType(contentType)) ? 'inline' : 'attachment',
      contentType,
      ...(claims.filename !== undefined && { filename: claims.filename }),
    });
  }

  #signPut(claims: ValetClaims, contentType: string | undefined, ttl: number, now: number) {
    if (claims.size !== undefined) {
      return this.presignPut({
        object: claims.obj,
        size: claims.size,
        ttl,
        now,
        ...(contentType !== undefined && { contentType }),
        ...(claims.sha256 !== undefined && { sha256: claims.sha256 }),
      });
    }
    if (claims.max_size === undefined) {
      throw new ValetError('invalid_options', 'an S3 upload needs an exact size or a maximum size');
    }
    const type = contentType ?? (claims.content_types?.length === 1 ? claims.content_types[0] : undefined);
    return this.presignPost({
      object: claims.obj,
      maxSize: claims.max_size,
      ttl,
      now,
      ...(claims.min_size !== undefined && { minSize: claims.min_size }),
      ...(type !== undefined && { contentType: type }),
    });
  }

  /** A presigned PUT for a body of exactly `size` bytes. */
  presignPut(options: Parameters<typeof presignPut>[1]): Promise<PresignedRequest> {
    return presignPut(this, options);
  }

  /** A presigned POST policy for a body of at most `maxSize` bytes (and at least `minSize`). */
  presignPost(options: Parameters<typeof presignPost>[1]): Promise<PresignedRequest> {
    return presignPost(this, options);
  }

  /** A presigned GET that makes the engine serve safe download headers. */
  presignGet(options: Parameters<typeof presignGet>[1]): Promise<PresignedRequest> {
    return presignGet(this, options);
  }

  /** A presigned DELETE. */
  presignDelete(options: Parameters<typeof presignDelete>[1]): Promise<PresignedRequest> {
    return presignDelete(this, options);
  }

  /** A presigned PUT for one part of a multipart upload, of exactly `size` bytes. */
  presignPart(options: Parameters<typeof presignPart>[1]): Promise<PresignedRequest> {
    return presignPart(this, options);
  }

  /** The object's size, type, ETag and (if kept) SHA-256; `undefined` if it does not exist. */
  async head(object: string): Promise<HeadResult | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({
          Bucket: this.bucket,
          Key: normalizeObjectKey(object),
          ChecksumMode: 'ENABLED',
        }),
      );
      return {
        size: head.ContentLength ?? 0,
        contentType: head.ContentType ?? 'application/octet-stream',
        etag: head.ETag ?? '',
        ...(head.LastModified !== undefined && { modifiedAt: head.LastModified.getTime() }),
        ...(head.ChecksumSHA256 !== undefined && { sha256: base64ToHex(head.ChecksumSHA256) }),
      };
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return undefined;
      throw error;
    }
  }

  /** Streams an object (as the issuer; `etag`: only that version, with `If-Match`). */
  async read(
    object: string,
    _context?: unknown,
    options: { etag?: string } = {},
  ): Promise<ObjectStream | undefined> {
    try {
      const got = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: normalizeObjectKey(object),
          ...(options.etag !== undefined && { IfMatch: options.etag }),
        }),
      );
      return { body: got.Body as Readable, size: got.ContentLength ?? 0, etag: got.ETag ?? '' };
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || status === 412) return undefined;
      throw error;
    }
  }

  /** Deletes an object (as the issuer, with the driver's credentials). */
  async delete(object: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: normalizeObjectKey(object) }));
  }

  /** Starts a multipart upload (for large objects); returns its upload id. */
  createMultipart(options: { object: string; contentType?: string }): Promise<string> {
    return createMultipart(this, options);
  }

  /** The parts the store holds for a multipart upload, in order. */
  listParts(object: string, uploadId: string): Promise<StoredPart[]> {
    return listParts(this, object, uploadId);
  }

  /** Completes a multipart upload from the parts the store holds, checked against `expectedSize`. */
  completeMultipart(options: { object: string; uploadId: string; expectedSize?: number }): Promise<void> {
    return completeMultipart(this, options);
  }

  /** Aborts a multipart upload: its parts are dropped. */
  abortMultipart(object: string, uploadId: string): Promise<void> {
    return abortMultipart(this, object, uploadId);
  }

  /** Aborts multipart uploads started before `olderThan` (stale ones); returns how many. */
  abortStaleMultiparts(olderThan: Date): Promise<number> {
    return abortStaleMultiparts(this, olderThan);
  }

  /** Lets browsers on these origins upload and download directly (the bucket's CORS rules). */
  async allowOrigins(origins: readonly string[]): Promise<void> {
    await this.client.send(
      new PutBucketCorsCommand({
        Bucket: this.bucket,
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedOrigins: [...origins],
              AllowedMethods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'],
              AllowedHeaders: ['*'],
              ExposeHeaders: ['ETag'],
              MaxAgeSeconds: 600,
            },
          ],
        },
      }),
    );
  }

  /**
   * Has the bucket refuse server-side copies into it (a statement added to its bucket policy,
   * the others kept): on an engine that takes unsigned `x-amz-*` headers on presigned requests
   * (Ceph RGW), an upload key could otherwise copy any object of the bucket (see
   * bucket-policy.ts). AWS S3 refuses such requests itself. `valet dev` and `valet issuer` do it.
   */
  refuseCopies(): Promise<void> {
    return refuseCopies(this.client, this.bucket);
  }

  /** The bucket answers (`HeadBucket`), for the issuer's readiness. */
  async ready(): Promise<CheckResult> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return ok();
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      return notOk(
        'failing',
        `the S3 bucket ${this.bucket} ${status ? `answers ${status} (${(error as Error).name})` : 'cannot be reached'}`,
      );
    }
  }

  /** Creates the bucket if it does not exist. */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }
}
