import { Sha256 } from './sha256.js';
import type { BlobLike, UploadData } from './types.js';

/**
 * Largest Blob hashed whole by WebCrypto (native, fast, but only on a buffer in memory); a larger
 * one streams through {@link Sha256} in constant memory, whatever its size.
 */
const WHOLE_DIGEST_MAX = 64 * 1024 * 1024;

/** The data of an upload as a Blob-like source (strings as UTF-8 text, buffers copied if shared). */
export function toBlob(data: Exclude<UploadData, ReadableStream<Uint8Array>>): BlobLike {
  if (data instanceof Blob || isBlobLike(data)) return data;
  if (typeof data === 'string') return new Blob([data], { type: 'text/plain;charset=utf-8' });
  if (data instanceof ArrayBuffer) return new Blob([data]);
  // A view on a SharedArrayBuffer cannot be a Blob part: copy it.
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Blob([data.buffer instanceof ArrayBuffer ? (view as Uint8Array<ArrayBuffer>) : view.slice()]);
}

export function isBlobLike(data: unknown): data is BlobLike {
  const b = data as Partial<BlobLike> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.size === 'number' &&
    typeof b.slice === 'function' &&
    typeof b.stream === 'function'
  );
}

export async function defaultDigest(blob: BlobLike): Promise<string> {
  if (blob.size > WHOLE_DIGEST_MAX || !globalThis.crypto?.subtle) {
    const hash = new Sha256();
    const reader = blob.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return hash.hex();
      hash.update(value);
    }
  }
  const bytes =
    blob instanceof Blob ? await blob.arrayBuffer() : await new Response(blob.stream()).arrayBuffer();
  const hash = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A file's own name (a browser `File`, `openFile`), or undefined for other data. */
export function fileName(source: object): string | undefined {
  const name = (source as { name?: unknown }).name;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * A file name the issuer keeps with an object (1 to 255 characters, no control characters or
 * slashes, Unicode text), or undefined: a name it would refuse is not sent, so it never fails an
 * upload (the object name is checked on its own).
 */
export function keptFileName(name: string | undefined): string | undefined {
  if (name === undefined || name.length > 255 || /[\p{Cc}/\\]/u.test(name)) return undefined;
  // An unpaired surrogate (String.prototype.isWellFormed is newer than some browsers Valet serves).
  return /\p{Cs}/u.test(name) ? undefined : name;
}

/** A browser File's identity (name, size, type, modification time); undefined for other data. */
export function fileFingerprint(blob: BlobLike): string | undefined {
  const file = blob as BlobLike & { name?: unknown; lastModified?: unknown };
  if (typeof file.name !== 'string' || typeof file.lastModified !== 'number') return undefined;
  return `file:${file.name}:${blob.size}:${blob.type}:${file.lastModified}`;
}

/** UTF-8 text as base64 (tus `Upload-Metadata` values). */
export function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
