import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ValetError } from '../../token/errors.js';
import { normalizeObjectKey } from '../../token/object-key.js';
import type { SignedRequest } from '../types.js';

/** A presigned request a client sends to the store. */
export type PresignedRequest = SignedRequest;

/** Where and when a presigned request is made: the bucket, and the issuer's clock (ms; default now). */
export interface Presigner {
  client: S3Client;
  bucket: string;
}

/** The signing date: the injected clock's, so that a request expires by the issuer's clock. */
function signedAt(now: number | undefined): { signingDate?: Date } {
  return now === undefined ? {} : { signingDate: new Date(now) };
}

export function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** A presigned PUT for a body of exactly `size` bytes. */
export async function presignPut(
  s3: Presigner,
  options: { object: string; size: number; contentType?: string; sha256?: string; ttl: number; now?: number },
): Promise<PresignedRequest> {
  const key = normalizeObjectKey(options.object);
  const headers: Record<string, string> = { 'content-length': String(options.size) };
  if (options.contentType !== undefined) headers['content-type'] = options.contentType;
  if (options.sha256 !== undefined) headers['x-amz-checksum-sha256'] = hexToBase64(options.sha256);
  const command = new PutObjectCommand({
    Bucket: s3.bucket,
    Key: key,
    ContentLength: options.size,
    ...(options.contentType !== undefined && { ContentType: options.contentType }),
    ...(options.sha256 !== undefined && { ChecksumSHA256: hexToBase64(options.sha256) }),
  });
  const url = await getSignedUrl(s3.client, command, {
    expiresIn: options.ttl,
    // Signed headers: the engine refuses a request whose headers differ.
    signableHeaders: new Set(Object.keys(headers)),
    ...signedAt(options.now),
  });
  return { method: 'PUT', url, headers };
}

/** A presigned POST policy for a body of at most `maxSize` bytes (and at least `minSize`). */
export async function presignPost(
  s3: Presigner,
  options: {
    object: string;
    maxSize: number;
    minSize?: number;
    /** One exact type, or `type/*`. */
    contentType?: string;
    ttl: number;
    now?: number;
  },
): Promise<PresignedRequest> {
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
  // createPresignedPost dates the policy by the system clock plus the client's clock offset: the
  // offset is set so that the date is the injected clock's (read synchronously at its start).
  const offset = s3.client.config.systemClockOffset;
  if (options.now !== undefined) s3.client.config.systemClockOffset = options.now - Date.now();
  const pending = createPresignedPost(s3.client, {
    Bucket: s3.bucket,
    Key: key,
    Conditions: conditions as never,
    Fields: fields,
    Expires: options.ttl,
  });
  s3.client.config.systemClockOffset = offset;
  const post = await pending;
  return { method: 'POST', url: post.url, headers: {}, fields: post.fields };
}

/** A presigned GET that makes the engine serve safe download headers. */
export async function presignGet(
  s3: Presigner,
  options: {
    object: string;
    ttl: number;
    /** `attachment` (default) or `inline` (only for types that are safe to show). */
    disposition?: 'inline' | 'attachment';
    filename?: string;
    contentType?: string;
    now?: number;
  },
): Promise<PresignedRequest> {
  const key = normalizeObjectKey(options.object);
  const filename = options.filename ?? key.slice(key.lastIndexOf('/') + 1);
  const disposition = `${options.disposition ?? 'attachment'}; filename*=UTF-8''${encodeURIComponent(filename)}`;
  const command = new GetObjectCommand({
    Bucket: s3.bucket,
    Key: key,
    ResponseContentDisposition: disposition,
    ...(options.contentType !== undefined && { ResponseContentType: options.contentType }),
  });
  return {
    method: 'GET',
    url: await getSignedUrl(s3.client, command, { expiresIn: options.ttl, ...signedAt(options.now) }),
    headers: {},
  };
}

/** A presigned DELETE. */
export async function presignDelete(
  s3: Presigner,
  options: { object: string; ttl: number; now?: number },
): Promise<PresignedRequest> {
  const command = new DeleteObjectCommand({ Bucket: s3.bucket, Key: normalizeObjectKey(options.object) });
  return {
    method: 'DELETE',
    url: await getSignedUrl(s3.client, command, { expiresIn: options.ttl, ...signedAt(options.now) }),
    headers: {},
  };
}

/**
 * A presigned PUT for one part of a multipart upload, signing its exact length: a client can
 * send that part only, with that many bytes, before the URL expires.
 */
export async function presignPart(
  s3: Presigner,
  options: { object: string; uploadId: string; partNumber: number; size: number; ttl: number; now?: number },
): Promise<PresignedRequest> {
  if (!Number.isInteger(options.partNumber) || options.partNumber < 1 || options.partNumber > 10_000) {
    throw new ValetError('bad_request', 'a part number is 1 to 10000');
  }
  const command = new UploadPartCommand({
    Bucket: s3.bucket,
    Key: normalizeObjectKey(options.object),
    UploadId: options.uploadId,
    PartNumber: options.partNumber,
    ContentLength: options.size,
  });
  const headers = { 'content-length': String(options.size) };
  const url = await getSignedUrl(s3.client, command, {
    expiresIn: options.ttl,
    signableHeaders: new Set(Object.keys(headers)),
    ...signedAt(options.now),
  });
  return { method: 'PUT', url, headers };
}
