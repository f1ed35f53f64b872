import { createHash } from 'node:crypto';
import { close as fsClose, open as fsOpen, fsync, read, writev } from 'node:fs';
import { promisify } from 'node:util';
import { ValetError } from '../../token/errors.js';

/**
 * One object on disk: a 4 KiB metadata header, then the bytes, in one file, so that a single
 * `rename` (or `link`) commits both. The header format, and the low-level reads and writes of
 * such files (see store.ts for the directory layout).
 */

/** Metadata kept with every object. */
export interface ObjectMeta {
  /** The object key (canonical). */
  key: string;
  /** Size of the body in bytes. */
  size: number;
  /** Content type the object was uploaded with. */
  contentType: string;
  /** SHA-256 of the body, lower-case hex. */
  sha256: string;
  /** Strong entity tag: the quoted SHA-256. */
  etag: string;
  /** Commit time, milliseconds since the epoch. */
  created: number;
  /** The `sub` of the key that uploaded it. */
  subject: string;
  /** The `jti` of the key that uploaded it. */
  keyId: string;
}

/** Size of the metadata header in front of every object's bytes. */
export const HEADER_SIZE = 4096;
// Numeric fds with the callback API: cheaper per call than FileHandle, and an upload needs its fd
// after its write stream is done (a FileHandle's stream keeps a reference that blocks close()).
export const openFd = promisify(fsOpen);
export const readFd = promisify(read);
export const fsyncFd = promisify(fsync);
export const closeFd = promisify(fsClose);

const MAGIC = Buffer.from('VALETOB1', 'latin1');

/** Bytes read in one go when an object is opened: the header and, for small objects, the whole body. */
export const READ_AHEAD = 64 * 1024;

/** True if metadata like `meta` fits the header (checked before an upload's bytes are taken). */
export function metaFits(meta: ObjectMeta): boolean {
  return Buffer.byteLength(JSON.stringify(meta), 'utf8') <= HEADER_SIZE - 12;
}

/** Serialises metadata into a fixed-size header. */
export function encodeHeader(meta: ObjectMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  if (json.length > HEADER_SIZE - 12) throw new ValetError('internal_error', 'object metadata too large');
  const header = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(json.length, 8);
  json.copy(header, 12);
  return header;
}

/** Parses a header written by {@link encodeHeader}; throws on anything else. */
export function decodeHeader(header: Buffer): ObjectMeta {
  if (header.length < 12 || !header.subarray(0, 8).equals(MAGIC)) throw new Error('bad object header magic');
  const length = header.readUInt32BE(8);
  if (length > HEADER_SIZE - 12 || 12 + length > header.length) throw new Error('bad object header length');
  return JSON.parse(header.subarray(12, 12 + length).toString('utf8')) as ObjectMeta;
}

/** Writes every byte of `buffers` at `position` of `fd` (short writes are continued). */
export async function writeAll(fd: number, buffers: Buffer[], position: number): Promise<void> {
  let pending = [...buffers]; // a copy: the caller's array stays as it was
  let at = position;
  while (pending.length > 0) {
    const written = await new Promise<number>((resolve, reject) =>
      writev(fd, pending, at, (error, bytes) => (error ? reject(error) : resolve(bytes))),
    );
    if (written <= 0) throw new Error('the file system wrote nothing');
    at += written;
    let skip = written;
    while (pending.length > 0 && skip >= (pending[0]?.length ?? 0)) skip -= pending.shift()?.length ?? 0;
    if (skip > 0 && pending[0]) pending = [pending[0].subarray(skip), ...pending.slice(1)];
  }
}

/** SHA-256 of the `size` bytes after the header space of a file (an upload's part file). */
export async function hashBody(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const fd = await openFd(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await readFd(
        fd,
        buffer,
        0,
        Math.min(buffer.length, size - done),
        HEADER_SIZE + done,
      );
      if (bytesRead === 0)
        throw new ValetError('internal_error', 'the upload file is shorter than its offset');
      hash.update(buffer.subarray(0, bytesRead));
      done += bytesRead;
    }
  } finally {
    await closeFd(fd);
  }
  return hash.digest('hex');
}
