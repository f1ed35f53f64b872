import { randomBytes } from 'node:crypto';
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { ValetError } from '../../token/errors.js';
import { normalizeObjectKey } from '../../token/object-key.js';
import type { StoredPart } from '../types.js';

/**
 * Resumable uploads on Azure Blob Storage: blocks (Put Block) committed as one blob (Put Block
 * List). Azure keeps a blob's uncommitted blocks with the blob itself, not in an upload of their
 * own, so an "upload id" here is a random prefix of the block ids: block `n` of upload `u` has the
 * id base64(`u.nnnnn`), derived from the part number alone, all of one length as Azure requires.
 * Listing the blob's uncommitted blocks with that prefix tells which parts are held; the issuer
 * commits exactly those, in order, after checking their total. Committing discards every other
 * uncommitted block of the blob (Azure's rule).
 */

/** The account's container, as the block functions need it. */
export interface BlockStore {
  container: ContainerClient;
}

const PART_DIGITS = 5;

/** A new upload id: 12 random bytes, base64url (16 characters). */
export function newUploadId(): string {
  return randomBytes(12).toString('base64url');
}

/** The block id of part `n` of upload `uploadId` (base64, as Azure takes it). */
export function blockId(uploadId: string, partNumber: number): string {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 50_000) {
    throw new ValetError('bad_request', 'a part number is 1 to 50000');
  }
  return Buffer.from(`${uploadId}.${String(partNumber).padStart(PART_DIGITS, '0')}`).toString('base64');
}

/** The part number a block id holds for `uploadId`, if it is one of that upload's. */
function partOf(uploadId: string, id: string): number | undefined {
  const text = Buffer.from(id, 'base64').toString('latin1');
  const match = /^(.+)\.(\d{5})$/.exec(text);
  return match && match[1] === uploadId ? Number(match[2]) : undefined;
}

function blobOf(store: BlockStore, object: string): BlockBlobClient {
  return store.container.getBlockBlobClient(normalizeObjectKey(object));
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

/** The blocks of this upload the store holds (uncommitted), in part order. */
export async function listBlocks(store: BlockStore, object: string, uploadId: string): Promise<StoredPart[]> {
  let blocks: Array<{ name: string; size: number }>;
  try {
    blocks = (await blobOf(store, object).getBlockList('uncommitted')).uncommittedBlocks ?? [];
  } catch (error) {
    if (statusOf(error) === 404) return [];
    throw error;
  }
  const parts: StoredPart[] = [];
  for (const block of blocks) {
    const partNumber = partOf(uploadId, block.name);
    if (partNumber !== undefined) parts.push({ partNumber, etag: block.name, size: block.size });
  }
  return parts.sort((a, b) => a.partNumber - b.partNumber);
}

/**
 * Commits the upload's blocks the store holds (not what a client claims) as the blob, with its
 * content type, after checking their total against `expectedSize` (on a mismatch the upload is
 * aborted and `422 upload_rejected` thrown). `noOverwrite`: committed only if no blob exists
 * (`If-None-Match: *`), else `412 precondition_failed` and the blocks are dropped.
 */
export async function commitBlocks(
  store: BlockStore,
  options: {
    object: string;
    uploadId: string;
    expectedSize?: number;
    contentType?: string;
    noOverwrite?: boolean;
  },
): Promise<void> {
  const parts = await listBlocks(store, options.object, options.uploadId);
  const total = parts.reduce((sum, part) => sum + part.size, 0);
  if (parts.length === 0 || (options.expectedSize !== undefined && total !== options.expectedSize)) {
    await abortBlocks(store, options.object);
    throw new ValetError(
      'upload_rejected',
      `the blocks hold ${total} bytes, not ${options.expectedSize ?? 'any'}: the upload was aborted`,
    );
  }
  try {
    await blobOf(store, options.object).commitBlockList(
      parts.map((part) => part.etag),
      {
        blobHTTPHeaders: { blobContentType: options.contentType ?? 'application/octet-stream' },
        ...(options.noOverwrite && { conditions: { ifNoneMatch: '*' } }),
      },
    );
  } catch (error) {
    if (options.noOverwrite && (statusOf(error) === 409 || statusOf(error) === 412)) {
      throw new ValetError(
        'precondition_failed',
        'the object already exists and this upload may not replace it',
      );
    }
    throw error;
  }
}

/**
 * Drops the uncommitted blocks of a blob that has no committed version: Azure has no call for
 * that, so an empty block list is committed only if no blob exists, and that empty blob deleted
 * at once (only if it is still that one). A blob that exists keeps its content; its uncommitted
 * blocks go when the next upload commits, or after a week (Azure's own collection).
 */
export function abortBlocks(store: BlockStore, object: string): Promise<boolean> {
  return dropUncommitted(blobOf(store, object));
}

async function dropUncommitted(blob: BlockBlobClient): Promise<boolean> {
  let etag: string | undefined;
  try {
    etag = (await blob.commitBlockList([], { conditions: { ifNoneMatch: '*' } })).etag;
  } catch (error) {
    if (statusOf(error) === 409 || statusOf(error) === 412) return false;
    throw error;
  }
  await blob.deleteIfExists(etag === undefined ? {} : { conditions: { ifMatch: etag } });
  return true;
}

/**
 * Drops the uncommitted blocks of blobs that have no committed version and were last written
 * before `olderThan`: one listing of the container with uncommitted blobs (paged by Azure), each
 * candidate (size 0) confirmed to have no committed version. Returns how many were dropped.
 */
export async function abortStaleBlocks(store: BlockStore, olderThan: Date): Promise<number> {
  let aborted = 0;
  for await (const item of store.container.listBlobsFlat({ includeUncommitedBlobs: true })) {
    const modified = item.properties.lastModified;
    if ((item.properties.contentLength ?? 0) !== 0 || !modified || modified >= olderThan) continue;
    const exists = await store.container.getBlobClient(item.name).exists();
    if (!exists && (await dropUncommitted(store.container.getBlockBlobClient(item.name)))) aborted++;
  }
  return aborted;
}
