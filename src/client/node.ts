/**
 * `valet/client/node`: Node-only helpers for the client. `openFile` gives a file as a Blob-like
 * source that `upload()` reads piece by piece, however large the file: Node 20's
 * `fs.openAsBlob` reports the size of a file over 4 GiB modulo 2^32, so it cannot be used for
 * large files there.
 *
 * @example
 * ```ts
 * import { createClient } from 'valet/client'
 * import { openFile } from 'valet/client/node'
 * // Stored as video.mp4 (the file's name) under the rule's prefix.
 * await createClient({ issuer, getToken }).upload(await openFile('video.mp4', { type: 'video/mp4' }))
 * ```
 */
import { close, open, read } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import type { BlobLike } from './client.js';

const openFd = promisify(open);
const readFd = promisify(read);
const closeFd = promisify(close);
/** Bytes read from the file per step of a stream. */
const READ_SIZE = 1024 * 1024;

/** A file as a Blob-like upload source (size, type, slice, stream), read only when sent. */
export async function openFile(path: string, options: { type?: string } = {}): Promise<BlobLike> {
  const info = await stat(path);
  if (!info.isFile()) throw new Error(`${path} is not a regular file`);
  return { ...fileSlice(path, 0, info.size, options.type ?? ''), name: basename(path) };
}

function fileSlice(path: string, start: number, end: number, type: string): BlobLike {
  const size = end - start;
  return {
    size,
    type,
    slice(from = 0, to = size, contentType?: string) {
      const a = clamp(from, size);
      const b = Math.max(a, clamp(to, size));
      return fileSlice(path, start + a, start + b, contentType ?? '');
    },
    stream() {
      let fd: number | undefined;
      let position = start;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            fd ??= await openFd(path, 'r');
            const want = Math.min(READ_SIZE, end - position);
            if (want <= 0) {
              await closeFd(fd);
              fd = undefined;
              controller.close();
              return;
            }
            const buffer = Buffer.allocUnsafe(want);
            const { bytesRead } = await readFd(fd, buffer, 0, want, position);
            if (bytesRead === 0) throw new Error(`${path} is shorter than when it was opened`);
            position += bytesRead;
            controller.enqueue(new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead));
          } catch (error) {
            if (fd !== undefined) await closeFd(fd).catch(() => {});
            fd = undefined;
            controller.error(error);
          }
        },
        async cancel() {
          if (fd !== undefined) await closeFd(fd).catch(() => {});
          fd = undefined;
        },
      });
    },
  };
}

/** Blob.slice semantics for an index: negative counts from the end, then clamped to 0..size. */
function clamp(index: number, size: number): number {
  const i = index < 0 ? size + index : index;
  return Math.min(Math.max(0, Math.trunc(i)), size);
}
