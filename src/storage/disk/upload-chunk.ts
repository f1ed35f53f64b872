import { createHash } from 'node:crypto';
import { ftruncate } from 'node:fs';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ValetError } from '../../token/errors.js';
import { releaseOwned } from './chunk-release.js';
import type { HashJob } from './file-hasher.js';
import { HEADER_SIZE, writeAll } from './object-file.js';

const truncateFd = promisify(ftruncate);

/** Bytes gathered before one write call. */
const WRITE_BATCH = 1024 * 1024;

/** The running SHA-256 of an upload's bytes, while they arrive in order (on the hashing thread). */
export interface RunningHash {
  job: HashJob;
  /** The offset the hash has reached. */
  offset: number;
}

/** The digest a chunk must have (tus checksum extension: `Upload-Checksum`). */
export interface ChunkChecksum {
  algorithm: string;
  /** Base64. */
  digest: string;
}

/** A body cut short (the connection lost, or cut by a shutdown), as against a refusal. */
function isCut(error: unknown): boolean {
  return !(error instanceof ValetError) || error.code === 'incomplete_body';
}

/**
 * Writes one chunk of a resumable upload (a tus PATCH body) into its part file `fd` from
 * `offset`, in batches of {@link WRITE_BATCH}, updating `running` as the bytes land; returns the
 * new offset. Refuses bytes past `size` (`entity_too_large`) and a chunk whose digest is not the
 * `expected` one (`checksum_mismatch`: its bytes are cut off again, as if never sent). What
 * arrived before a cut connection is kept, for the client to resume from; a refusal's is not.
 */
export async function writeChunk(
  fd: number,
  stream: Readable,
  chunk: {
    offset: number;
    size: number;
    running: RunningHash | undefined;
    expected: ChunkChecksum | undefined;
  },
): Promise<number> {
  const { offset, size, running, expected } = chunk;
  let position = offset;
  const chunkHash = expected ? createHash(expected.algorithm) : undefined;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = async () => {
    const buffers = batch;
    batch = [];
    batchBytes = 0;
    const length = buffers.reduce((sum, b) => sum + b.length, 0);
    // writeAll consumes its array: it gets a copy, the hash gets the chunks once they landed.
    await writeAll(fd, buffers.slice(), HEADER_SIZE + position);
    position += length;
    if (running) {
      running.job.landed(fd, position);
      running.offset = position;
    }
    if (chunkHash) for (const b of buffers) chunkHash.update(b);
    for (const b of buffers) releaseOwned(b);
  };
  try {
    for await (const data of stream) {
      const buffer = data as Buffer;
      if (position + batchBytes + buffer.length > size) {
        throw new ValetError('entity_too_large', `the upload is larger than its declared ${size} bytes`);
      }
      batch.push(buffer);
      batchBytes += buffer.length;
      if (batchBytes >= WRITE_BATCH) await flush();
    }
    if (batchBytes > 0) await flush();
  } catch (error) {
    if (batchBytes > 0 && isCut(error)) await flush().catch(() => {});
    throw error;
  }
  if (expected && chunkHash?.digest('base64') !== expected.digest) {
    await truncateFd(fd, HEADER_SIZE + offset);
    throw new ValetError(
      'checksum_mismatch',
      'the chunk does not match its Upload-Checksum; it was discarded',
    );
  }
  return position;
}
