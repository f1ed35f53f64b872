/** ArrayBuffer.prototype.transfer (Node 22 and later). */
const transfer = (ArrayBuffer.prototype as { transfer?: (length?: number) => ArrayBuffer }).transfer;

/** True where a chunk's memory can be given back before the garbage collector finds it (Node 22+). */
export const canRelease = transfer !== undefined;

/**
 * Frees a landed chunk's memory now instead of at the next garbage collection (issue 29). V8
 * counts every live ArrayBuffer's bytes as external memory against its old-generation limit and
 * frees young ones only at a scavenge, which the few objects an upload allocates trigger only
 * every ~32 MB of body: in a small heap, that much pending external memory starts a full
 * mark-compact every ~30 MB (35 per GiB, +0.9 s of CPU). Transferring the buffer to a zero-length
 * one detaches it, which gives its bytes back and tells V8 at once. Only a chunk that is a whole
 * buffer of its own (never a slice of a shared or pooled one) is released; the caller vouches
 * that nothing else holds it.
 */
export function releaseChunk(chunk: Buffer): void {
  const buffer = chunk.buffer as ArrayBuffer;
  if (chunk.byteOffset !== 0 || buffer.byteLength !== chunk.length || chunk.length < 4096) return;
  transfer?.call(buffer, 0);
}

/** Chunks handed over by a source that vouches nobody else holds them (see {@link ownChunk}). */
const owned = new WeakSet<Buffer>();

/**
 * Marks a chunk read straight from a request's socket (a fresh buffer from Node's HTTP parser) as
 * one {@link releaseOwned} may free once it has landed, whatever streams carried it there.
 */
export function ownChunk(chunk: Buffer): void {
  if (canRelease) owned.add(chunk);
}

/** {@link releaseChunk} for a chunk marked by {@link ownChunk}; any other is left alone. */
export function releaseOwned(chunk: Buffer): void {
  if (owned.delete(chunk)) releaseChunk(chunk);
}
