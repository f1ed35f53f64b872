import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
} from '@aws-sdk/client-s3';
import { ValetError } from '../../token/errors.js';
import { normalizeObjectKey } from '../../token/object-key.js';
import type { StoredPart } from '../types.js';
import type { Presigner } from './presign.js';

/** Starts a multipart upload (for large objects); returns its upload id. */
export async function createMultipart(
  s3: Presigner,
  options: { object: string; contentType?: string },
): Promise<string> {
  const created = await s3.client.send(
    new CreateMultipartUploadCommand({
      Bucket: s3.bucket,
      Key: normalizeObjectKey(options.object),
      ...(options.contentType !== undefined && { ContentType: options.contentType }),
    }),
  );
  if (!created.UploadId) throw new ValetError('unavailable', 'the store did not start a multipart upload');
  return created.UploadId;
}

/** The parts the store holds for a multipart upload, in order. */
export async function listParts(s3: Presigner, object: string, uploadId: string): Promise<StoredPart[]> {
  const parts: StoredPart[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await s3.client.send(
      new ListPartsCommand({
        Bucket: s3.bucket,
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
export async function completeMultipart(
  s3: Presigner,
  options: { object: string; uploadId: string; expectedSize?: number },
): Promise<void> {
  const parts = await listParts(s3, options.object, options.uploadId);
  const total = parts.reduce((sum, part) => sum + part.size, 0);
  if (parts.length === 0 || (options.expectedSize !== undefined && total !== options.expectedSize)) {
    await abortMultipart(s3, options.object, options.uploadId);
    throw new ValetError(
      'upload_rejected',
      `the parts hold ${total} bytes, not ${options.expectedSize ?? 'any'}: the upload was aborted`,
    );
  }
  await s3.client.send(
    new CompleteMultipartUploadCommand({
      Bucket: s3.bucket,
      Key: normalizeObjectKey(options.object),
      UploadId: options.uploadId,
      MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
    }),
  );
}

/** Aborts a multipart upload: its parts are dropped. */
export async function abortMultipart(s3: Presigner, object: string, uploadId: string): Promise<void> {
  await s3.client.send(
    new AbortMultipartUploadCommand({
      Bucket: s3.bucket,
      Key: normalizeObjectKey(object),
      UploadId: uploadId,
    }),
  );
}

/** Aborts multipart uploads started before `olderThan` (stale ones); returns how many. */
export async function abortStaleMultiparts(s3: Presigner, olderThan: Date): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await s3.client.send(
      new ListMultipartUploadsCommand({
        Bucket: s3.bucket,
        ...(keyMarker !== undefined && { KeyMarker: keyMarker }),
        ...(uploadIdMarker !== undefined && { UploadIdMarker: uploadIdMarker }),
      }),
    );
    for (const upload of page.Uploads ?? []) {
      if (upload.Key && upload.UploadId && upload.Initiated && upload.Initiated < olderThan) {
        await abortMultipart(s3, upload.Key, upload.UploadId);
        aborted++;
      }
    }
    if (!page.IsTruncated) return aborted;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}
