import type { Writable } from 'node:stream';
import { ValetError } from '../../token/errors.js';
import {
  closeFd,
  decodeHeader,
  HEADER_SIZE,
  type ObjectMeta,
  openFd,
  READ_AHEAD,
  readFd,
} from './object-file.js';
import { type SendOptions, sendFileRange } from './send-file.js';
import { storageError } from './upload-file.js';

/**
 * An object opened for reading: its metadata, the first bytes of its body, and an open file
 * descriptor. The reader must either hand the fd to {@link OpenObject.stream} or call
 * {@link OpenObject.close}, exactly once.
 */
export interface OpenObject {
  meta: ObjectMeta;
  /** The first bytes of the body (up to {@link READ_AHEAD} − header), read with the header. */
  head: Buffer;
  /**
   * Sends body bytes `start` to `end` (inclusive) to `out`, then closes the fd. Two buffers are
   * reused for the whole transfer (read one while the socket drains the other): a download
   * allocates nothing per chunk, which keeps the garbage collector out of the data path; they are
   * small until the client keeps up (see send-file.ts). Resolves early, without error, if `out`
   * is closed by the client.
   */
  send(out: Writable, start: number, end: number, options?: SendOptions): Promise<void>;
  /** Closes the fd without sending. */
  close(): Promise<void>;
}

/**
 * Opens the object file `file` for reading, or returns undefined if it does not exist. The handle
 * stays valid even if the object is replaced or deleted meanwhile (POSIX unlink semantics), so a
 * reader always streams one consistent version. `key` is the object the header must name.
 */
export async function openObjectFile(file: string, key: string): Promise<OpenObject | undefined> {
  let fd: number;
  try {
    fd = await openFd(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EMFILE' || code === 'ENFILE') throw storageError(error as NodeJS.ErrnoException);
    throw error;
  }
  try {
    const buffer = Buffer.allocUnsafe(READ_AHEAD);
    const { bytesRead } = await readFd(fd, buffer, 0, READ_AHEAD, 0);
    const meta = decodeHeader(buffer.subarray(0, Math.min(bytesRead, HEADER_SIZE)));
    if (meta.key !== key) throw new Error('object header names another key');
    const head = buffer.subarray(HEADER_SIZE, Math.min(bytesRead, HEADER_SIZE + meta.size));
    return {
      meta,
      head,
      send: async (out, start, end, options) => {
        try {
          await sendFileRange(fd, HEADER_SIZE + start, HEADER_SIZE + end, out, options);
        } finally {
          await closeFd(fd);
        }
      },
      close: () => closeFd(fd),
    };
  } catch (error) {
    await closeFd(fd);
    throw new ValetError('internal_error', 'object file is damaged', { cause: error });
  }
}
