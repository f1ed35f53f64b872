import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Constraint, Enforcement, HeadResult, SignedRequest, StorageDriver } from '../issuer/driver.js';
import { isInlineType } from '../storage/headers.js';
import { mediaTypeEssence, type ValetClaims } from '../token/claims.js';
import { ValetError } from '../token/errors.js';
import { normalizeObjectKey } from '../token/object-key.js';

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

/** A presigned request a client sends to the store. */
export type PresignedRequest = SignedRequest;

/**
 * The `response-content-type` a GET signs: the object's type when it is one a browser only
 * displays (raster images, audio, video, PDF, plain text), else `application/octet-stream`, so
 * that nothing uploaded is ever served as HTML, SVG or script from the bucket's origin.
 */
export function safeResponseType(contentType: string | undefined): string {
  const essence = mediaTypeEssence(contentType ?? '');
  // Valet storage's own inline list (raster images, audio, video, PDF), and plain text.
  return essence !== '' && (isInlineType(essence) || essence === 'text/plain')
    ? essence
    : 'application/octet-stream';
}

function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

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
 *
 * The presigning client is created with `requestChecksumCalculation: 'WHEN_REQUIRED'`, so no
 * checksum of an empty body is added to upload URLs (real S3 would then refuse real uploads).
 *
 * @example
 * ```ts
 * const s3 = new S3Driver({ bucket: 'uploads', endpoint: 'http://127.0.0.1:7480', forcePathStyle: true,
 *   credentials: { accessKeyId, secretAccessKey }, checksums: false })
 * const put = await s3.presignPut({ object: 'users/alice/a.png', size: 1234, contentType: 'image/png', ttl: 300 })
 * ```
 */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly bucket: string;
  readonly client: S3Client;
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
  }

  /**
   * Who enforces each constraint on this driver. `store`: the engine refuses a request that
   * breaks it. `issuer`: checked when the upload completes (the object is deleted if it breaks
   * it). `none`: nobody can; a rule that sets it must say it accepts that.
   */
  enforcement(): Record<Constraint, Enforcement> {
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
  async sign(claims: ValetClaims, contentType: string | undefined): Promise<SignedRequest> {
    const ttl = Math.max(1, claims.exp - Math.floor(Date.now() / 1000));
    if (claims.op === 'put') {
      if (claims.size !== undefined) {
        return this.presignPut({
          object: claims.obj,
          size: claims.size,
          ttl,
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
        ...(claims.min_size !== undefined && { minSize: claims.min_size }),
        ...(type !== undefined && { contentType: type }),
      });
    }
    if (claims.op === 'delete') return this.presignDelete({ object: claims.obj, ttl });
    return this.presignGet({
      object: claims.obj,
      ttl,
      // Always a download when navigated to (an <img> or <video> still shows it): the engine
      // serves whatever type the uploader declared, from an origin shared by every object.
      disposition: 'attachment',
      contentType: safeResponseType(contentType),
      ...(claims.filename !== undefined && { filename: claims.filename }),
    });
  }

  /** A presigned PUT for a body of exactly `size` bytes. */
  async presignPut(options: {
    object: string;
    size: number;
    contentType?: string;
    sha256?: string;
    ttl: number;
  }): Promise<PresignedRequest> {
    const key = normalizeObjectKey(options.object);
    const headers: Record<string, string> = { 'content-length': String(options.size) };
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    if (options.sha256 !== undefined) headers['x-amz-checksum-sha256'] = hexToBase64(options.sha256);
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ContentLength: options.size,
      ...(options.contentType !== undefined && { ContentType: options.contentType }),
      ...(options.sha256 !== undefined && { ChecksumSHA256: hexToBase64(options.sha256) }),
    });
    const url = await getSignedUrl(this.client, command, {
      expiresIn: options.ttl,
      // Signed headers: the engine refuses a request whose headers differ.
      signableHeaders: new Set(Object.keys(headers)),
    });
    return { method: 'PUT', url, headers };
  }

  /** A presigned POST policy for a body of at most `maxSize` bytes (and at least `minSize`). */
  async presignPost(options: {
    object: string;
    maxSize: number;
    minSize?: number;
    /** One exact type, or `type/*`. */
    contentType?: string;
    ttl: number;
  }): Promise<PresignedRequest> {
    const key = normalizeObjectKey(options.object);
    const conditions: Array<[string, string, string] | [string, number, number]> = [
      ['content-length-range', options.minSize ?? 0, options.maxSize],
    ];
    const fields: Record<string, string> = {};
    if (options.contentType !== undefined) {
      if (options.contentType.endsWith('/*')) {
        conditions.push(['starts-with', '$Content-Type', options.contentType.slice(0, -1)]);
      } else {
        conditions.push(['eq', '$Content-Type', options.contentType]);
        fields['Content-Type'] = options.contentType;
      }
    }
    const post = await createPresignedPost(this.client, {
      Bucket: this.bucket,
      Key: key,
      Conditions: conditions as never,
      Fields: fields,
      Expires: options.ttl,
    });
    return { method: 'POST', url: post.url, headers: {}, fields: post.fields };
  }

  /** A presigned GET that makes the engine serve safe download headers. */
  async presignGet(options: {
    object: string;
    ttl: number;
    /** `attachment` (default) or `inline` (only for types that are safe to show). */
    disposition?: 'inline' | 'attachment';
    filename?: string;
    contentType?: string;
  }): Promise<PresignedRequest> {
    const key = normalizeObjectKey(options.object);
    const filename = options.filename ?? key.slice(key.lastIndexOf('/') + 1);
    const disposition = `${options.disposition ?? 'attachment'}; filename*=UTF-8''${encodeURIComponent(filename)}`;
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: disposition,
      ...(options.contentType !== undefined && { ResponseContentType: options.contentType }),
    });
    return {
      method: 'GET',
      url: await getSignedUrl(this.client, command, { expiresIn: options.ttl }),
      headers: {},
    };
  }

  /** A presigned DELETE. */
  async presignDelete(options: { object: string; ttl: number }): Promise<PresignedRequest> {
    const command = new DeleteObjectCommand({ Bucket: this.bucket, Key: normalizeObjectKey(options.object) });
    return {
      method: 'DELETE',
      url: await getSignedUrl(this.client, command, { expiresIn: options.ttl }),
      headers: {},
    };
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
        ...(head.ChecksumSHA256 !== undefined && { sha256: base64ToHex(head.ChecksumSHA256) }),
      };
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return undefined;
      throw error;
    }
  }

  /** Deletes an object (as the issuer, with the driver's credentials). */
  async delete(object: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: normalizeObjectKey(object) }));
  }

  /** Starts a multipart upload (for large objects); returns its upload id. */
  async createMultipart(options: { object: string; contentType?: string }): Promise<string> {
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: normalizeObjectKey(options.object),
        ...(options.contentType !== undefined && { ContentType: options.contentType }),
      }),
    );
    if (!created.UploadId) throw new ValetError('unavailable', 'the store did not start a multipart upload');
    return created.UploadId;
  }

  /**
   * A presigned PUT for one part of a multipart upload, signing its exact length: a client can
   * send that part only, with that many bytes, before the URL expires.
   */
  async presignPart(options: {
    object: string;
    uploadId: string;
    partNumber: number;
    size: number;
    ttl: number;
  }): Promise<PresignedRequest> {
    if (!Number.isInteger(options.partNumber) || options.partNumber < 1 || options.partNumber > 10_000) {
      throw new ValetError('bad_request', 'a part number is 1 to 10000');
    }
    const command = new UploadPartCommand({
      Bucket: this.bucket,
      Key: normalizeObjectKey(options.object),
      UploadId: options.uploadId,
      PartNumber: options.partNumber,
      ContentLength: options.size,
    });
    const headers = { 'content-length': String(options.size) };
    const url = await getSignedUrl(this.client, command, {
      expiresIn: options.ttl,
      signableHeaders: new Set(Object.keys(headers)),
    });
    return { method: 'PUT', url, headers };
  }

  /** The parts the store holds for a multipart upload, in order. */
  async listParts(
    object: string,
    uploadId: string,
  ): Promise<Array<{ partNumber: number; etag: string; size: number }>> {
    const parts: Array<{ partNumber: number; etag: string; size: number }> = [];
    let marker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListPartsCommand({
          Bucket: this.bucket,
          Key: normalizeObjectKey(object),
          UploadId: uploadId,
          ...(marker !== undefined && { PartNumberMarker: marker }),
        }),
      );
      for (const part of page.Parts ?? []) {
        parts.push({ partNumber: part.PartNumber ?? 0, etag: part.ETag ?? '', size: part.Size ?? 0 });
      }
      if (!page.IsTruncated) return parts;
      marker = page.NextPartNumberMarker;
    }
  }

  /**
   * Completes a multipart upload from the parts the store holds (not from what a client claims),
   * after checking their total against `expectedSize`; on a mismatch the upload is aborted.
   */
  async completeMultipart(options: {
    object: string;
    uploadId: string;
    expectedSize?: number;
  }): Promise<void> {
    const parts = await this.listParts(options.object, options.uploadId);
    const total = parts.reduce((sum, part) => sum + part.size, 0);
    if (parts.length === 0 || (options.expectedSize !== undefined && total !== options.expectedSize)) {
      await this.abortMultipart(options.object, options.uploadId);
      throw new ValetError(
        'upload_rejected',
        `the parts hold ${total} bytes, not ${options.expectedSize ?? 'any'}: the upload was aborted`,
      );
    }
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: normalizeObjectKey(options.object),
        UploadId: options.uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
      }),
    );
  }

  /** Aborts a multipart upload: its parts are dropped. */
  async abortMultipart(object: string, uploadId: string): Promise<void> {
    await this.client.send(
      new AbortMultipartUploadCommand({
        Bucket: this.bucket,
        Key: normalizeObjectKey(object),
        UploadId: uploadId,
      }),
    );
  }

  /** Aborts multipart uploads started before `olderThan` (stale ones); returns how many. */
  async abortStaleMultiparts(olderThan: Date): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          ...(keyMarker !== undefined && { KeyMarker: keyMarker }),
          ...(uploadIdMarker !== undefined && { UploadIdMarker: uploadIdMarker }),
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key && upload.UploadId && upload.Initiated && upload.Initiated < olderThan) {
          await this.abortMultipart(upload.Key, upload.UploadId);
          aborted++;
        }
      }
      if (!page.IsTruncated) return aborted;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
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

  /** Creates the bucket if it does not exist. */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }
}
