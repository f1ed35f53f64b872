// What tests of the object store share: uploads taken through the store as storage does them.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type { ObjectMeta } from './object-file.js';
import type { FileStore } from './store.js';
import type { Upload } from './upload-file.js';

export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The metadata of a version of `key` holding `body`, made with the key id `keyId`. */
export function metaFor(key: string, body: Buffer, keyId: string): ObjectMeta {
  const digest = sha(body);
  return {
    key,
    size: body.length,
    contentType: 'application/octet-stream',
    sha256: digest,
    etag: `"${digest}"`,
    created: Date.now(),
    subject: 's',
    keyId,
  };
}

/** An upload that has received `body` (small bodies stay in memory), ready to seal. */
export async function received(store: FileStore, body: Buffer): Promise<Upload> {
  const upload = await store.beginUpload();
  const source = Object.assign(new PassThrough(), { complete: true }) as unknown as IncomingMessage;
  const receiving = upload.receive(source, { declaredSize: body.length });
  (source as unknown as PassThrough).end(body);
  await receiving;
  return upload;
}

/** A PUT through the store as storage does it (seal, then commit); small bodies are journaled. */
export async function put(store: FileStore, key: string, body: Buffer, keyId: string): Promise<void> {
  const upload = await received(store, body);
  try {
    const meta = metaFor(key, body, keyId);
    const ticket = await store.seal(upload, meta, false);
    await store.commit(upload, key, { noOverwrite: false, keyId, ...(ticket && { ticket }) });
  } finally {
    await upload.discard();
  }
}

/** The body of the object `key` as its file holds it, or undefined if there is none. */
export async function read(store: FileStore, key: string): Promise<Buffer | undefined> {
  const object = await store.open(key);
  if (!object) return undefined;
  await object.close();
  const file = await readFile(store.pathFor(key));
  return file.subarray(4096);
}
