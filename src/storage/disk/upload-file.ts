import { createHash } from 'node:crypto';
import { createWriteStream, ftruncate } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { ValetError } from '../../token/errors.js';
import { tooLarge } from '../../token/limits.js';
import { canRelease, releaseChunk } from './chunk-release.js';
import { type HashPool, sharedHashPool } from './file-hasher.js';
import {
  closeFd,
  encodeHeader,
  fsyncFd,
  HEADER_SIZE,
  type ObjectMeta,
  openFd,
  writeAll,
} from './object-file.js';
import { BudgetAccount, uploadWriteBudget } from './write-budget.js';

const truncateFd = promisify(ftruncate);

/** Limits enforced while a body streams in. */
export interface ReceiveLimits {
  /** Largest body in bytes; the first byte past it fails the upload with `entity_too_large`. */
  maxSize?: number;
  /** The declared `Content-Length`, if any (Node's parser guarantees the body is not longer). */
  declaredSize?: number;
  /** Told when storage starts (true) and stops (false) holding the body unread, waiting to write. */
  onHold?: (held: boolean) => void;
}

/**
 * Bodies declared this small are gathered in memory (never more than this) and written with the
 * header in one call at seal time: for small objects that saves a write stream and a write.
 */
export const SMALL_BODY = 60 * 1024;

/** What {@link Upload.receive} measured. */
export interface Received {
  size: number;
  sha256: string;
}

/** Write buffer of an upload's file stream: large writes keep syscalls few for big bodies. */
const WRITE_HIGH_WATER_MARK = 1024 * 1024;

/** Where a body's bytes go while it streams in, and who hashes them. */
interface BodySink {
  /** Takes a chunk; false asks the source to pause until the sink drains. */
  write(chunk: Buffer): boolean;
  /** Every byte is in: resolves once all are written. */
  finish(): Promise<void>;
  /** After {@link finish}: the SHA-256 of every byte, lower-case hex. */
  digest(): Promise<string>;
  /** The upload failed: resolves once no write (nor read for the hash) is in flight, never rejects. */
  abandon(): Promise<void>;
}

/** A small body kept in memory (the caller bounds it by its declared length), hashed here. */
function memorySink(chunks: Buffer[]): BodySink {
  const hash = createHash('sha256');
  return {
    write: (chunk) => {
      hash.update(chunk);
      return chunks.push(chunk) > 0;
    },
    finish: () => Promise.resolve(),
    digest: () => Promise.resolve(hash.digest('hex')),
    abandon: () => Promise.resolve(),
  };
}

/** Landed bytes gathered before the hashing thread is told: few messages, reads of 1 MiB. */
const HASH_STEP = 4 * 1024 * 1024;

/**
 * A body written through an fs write stream at {@link HEADER_SIZE} of an fd the sink does not
 * own, and hashed by a thread of `pool` from the file as its writes land (file-hasher.ts).
 */
function fileSink(
  fd: number,
  onDrain: () => void,
  onError: (error: NodeJS.ErrnoException) => void,
  pool: HashPool,
  release: boolean,
): BodySink {
  const out = createWriteStream('', {
    fd,
    start: HEADER_SIZE,
    autoClose: false,
    highWaterMark: WRITE_HIGH_WATER_MARK,
  });
  // The source pauses when this upload's own buffer is full or the shared budget is spent; once
  // its writes have landed it resumes, in its turn if others are waiting for the budget.
  const account = new BudgetAccount(uploadWriteBudget);
  let paused = false;
  let total = 0;
  const job = pool.job();
  const resume = () => {
    if (!paused) return;
    paused = false;
    onDrain();
  };
  const landed = (chunk: Buffer) => () => {
    const bytes = chunk.length;
    if (release) releaseChunk(chunk);
    account.give(bytes);
    total += bytes;
    if (total - job.landedBytes >= HASH_STEP) job.landed(fd, total);
    if (paused && out.writableLength < WRITE_HIGH_WATER_MARK) account.waitTurn(resume);
  };
  // Stays attached: a second 'error' must never go unhandled.
  out.on('error', onError);
  out.once('error', () => account.close());
  out.once('close', () => account.close());
  const ended = () =>
    new Promise<void>((resolve, reject) => {
      if (out.writableFinished) resolve();
      else if (out.errored) reject(out.errored);
      else {
        out.once('finish', resolve);
        out.once('error', reject);
      }
    });
  return {
    write(chunk) {
      account.take(chunk.length);
      out.write(chunk, landed(chunk));
      paused = out.writableLength >= WRITE_HIGH_WATER_MARK || account.full;
      return !paused;
    },
    finish() {
      const done = ended().finally(() => account.close());
      out.end();
      return done;
    },
    digest() {
      job.landed(fd, total);
      return job.digest().catch((error: NodeJS.ErrnoException) => {
        throw storageError(error);
      });
    },
    // Never destroy `out`: destroying an fs stream closes its fd even with autoClose off, and
    // the fd is closed once, by seal() or discard(). Ending it lets a write in flight (and at
    // most one buffer) land in the temporary file, which is then discarded; only then may the
    // fd be closed, whose number the kernel hands out again at once.
    async abandon() {
      paused = false;
      if (!out.writableFinished && !out.errored) {
        const done = ended();
        out.end();
        await done.catch(() => {});
      }
      account.close();
      await job.drop();
    },
  };
}

/** One upload into a temporary file: receive, seal, then commit or discard. */
export class Upload {
  readonly file: string;
  /** Set once the file has become an object: discarding then leaves it alone. */
  committed = false;
  #fd: number | undefined;
  // A small body, kept until seal() writes it with the header.
  #body: Buffer | undefined;
  readonly #hashes: HashPool;
  readonly #previousSize: number;

  /**
   * `fd`: `file` open for reading and writing (the hashing thread reads landed bytes back);
   * `hashes`: the threads that hash a large body as it lands (default: the process's shared pool);
   * `previousSize`: the bytes `file` already holds (a reused file: the upload writes over them, and
   * the seal cuts off what is left past the new object).
   */
  constructor(file: string, fd: number, hashes: HashPool = sharedHashPool, previousSize = 0) {
    this.file = file;
    this.#fd = fd;
    this.#hashes = hashes;
    this.#previousSize = previousSize;
  }

  /** An upload whose bytes are already in `file` after the header space (a finished resumable upload). */
  static async reopen(file: string): Promise<Upload> {
    return new Upload(file, await openFd(file, 'r+'));
  }

  /**
   * Streams a request body into the file after the header space (or, for a body declared at most
   * {@link SMALL_BODY} bytes, into memory until {@link seal}), hashing and counting as it goes.
   * Rejects with `entity_too_large` at the first byte past `maxSize` (without reading further),
   * `incomplete_body` if the client goes away before the end, or the file system's error.
   * Never destroys `source`: the caller still has to answer on that connection.
   */
  receive(source: IncomingMessage, limits: ReceiveLimits): Promise<Received> {
    const fd = this.#fd;
    if (fd === undefined) return Promise.reject(new Error('upload already closed'));
    let size = 0;
    return new Promise<Received>((resolve, reject) => {
      let settled = false;
      const detach = () => {
        source.off('readable', pump);
        source.off('end', onEnd);
        source.off('close', onClose);
        source.off('error', onClose);
      };
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        detach();
        // Only once no write is in flight may the caller close the fd (see fileSink).
        void sink.abandon().then(() => reject(error));
      };
      const small = limits.declaredSize !== undefined && limits.declaredSize <= SMALL_BODY;
      const chunks: Buffer[] = [];
      const sink = small
        ? memorySink(chunks)
        : fileSink(
            fd,
            () => drained(),
            (e) => fail(storageError(e)),
            this.#hashes,
            ownsChunks(source),
          );
      // Pulled, not flowing: a chunk is read from the socket only when the sink can take it; after
      // the sink asked to wait, only its drain reads on.
      let waiting = false;
      function pump() {
        while (!settled && !waiting) {
          const chunk = source.read() as Buffer | null;
          if (chunk === null) return;
          size += chunk.length;
          if (limits.maxSize !== undefined && size > limits.maxSize)
            return fail(tooLarge('the body', limits.maxSize));
          waiting = !sink.write(chunk);
          if (waiting) limits.onHold?.(true);
        }
      }
      function drained() {
        if (!waiting) return;
        waiting = false;
        limits.onHold?.(false);
        pump();
      }
      const onEnd = () => {
        detach();
        sink
          .finish()
          .then(() => sink.digest())
          .then(
            (sha256) => {
              if (settled) return;
              settled = true;
              if (small) this.#body = gather(chunks, size, ownsChunks(source));
              resolve({ size, sha256 });
            },
            (error: NodeJS.ErrnoException) => fail(storageError(error)),
          );
      };
      const onClose = () => fail(bodyCut(source));
      if (source.destroyed) {
        // The connection went away before the upload started: its 'close' has already fired.
        fail(new ValetError('incomplete_body', 'the connection closed before the body was received'));
        return;
      }
      noReadAhead(source);
      source.on('readable', pump);
      source.on('end', onEnd);
      source.on('close', onClose);
      source.on('error', onClose);
    });
  }

  /** True if the whole body is in memory (a small body): the journal can take it. */
  get inMemory(): boolean {
    return this.#body !== undefined;
  }

  /**
   * Writes the metadata header (with a small body), fsyncs and closes the file: it is then ready
   * to commit. With `durable: false` (a journaled small upload) it does not fsync, and returns
   * the file's bytes for the journal.
   */
  async seal(meta: ObjectMeta, options: { durable?: boolean } = {}): Promise<Buffer[]> {
    const fd = this.#fd;
    if (fd === undefined) throw new Error('upload already closed');
    try {
      const header = encodeHeader(meta);
      const content = this.#body ? [header, this.#body] : [header];
      await writeAll(fd, content, 0);
      this.#body = undefined;
      // The journal still needs a journaled upload's bytes: FileStore.seal frees them after.
      if (options.durable !== false) releaseContent(content);
      // Written over a reused file: nothing of its earlier bytes may remain past the object.
      if (this.#previousSize > HEADER_SIZE + meta.size) await truncateFd(fd, HEADER_SIZE + meta.size);
      if (options.durable === false) return content;
      await fsyncFd(fd);
      return content;
    } catch (error) {
      throw storageError(error as NodeJS.ErrnoException);
    } finally {
      this.#fd = undefined;
      await closeFd(fd);
    }
  }

  /** Closes and removes the temporary file unless it was committed. Safe to call more than once. */
  async discard(): Promise<void> {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await closeFd(fd).catch(() => {});
    if (!this.committed) await fs.rm(this.file, { force: true });
  }
}

/**
 * A small body's chunks as one buffer of its own: the chunk itself when there is one (read from
 * a socket, `owned`), else a copy, after which owned chunks are freed at once (see
 * chunk-release.ts: a 4 KiB PUT would otherwise leave 8 KiB of external memory per request for
 * the garbage collector, which at thousands of requests a second keeps full collections going).
 */
function gather(chunks: Buffer[], size: number, owned: boolean): Buffer {
  const only = chunks[0];
  if (owned && chunks.length === 1 && only !== undefined) return only;
  const body = Buffer.concat(chunks, size);
  if (owned) for (const chunk of chunks) releaseChunk(chunk);
  return body;
}

/**
 * Frees a sealed upload's header and small body once nothing needs them (written, and in the
 * journal when it took them): both are buffers of their own that only this upload held.
 */
export function releaseContent(content: Buffer[]): void {
  for (const buffer of content) releaseChunk(buffer);
}

/**
 * True if every body chunk `source` yields is a fresh buffer that nothing else holds: a request
 * read by Node's HTTP parser from a socket (it copies each piece of body into a new buffer).
 */
function ownsChunks(source: IncomingMessage): boolean {
  return canRelease && source.socket !== undefined && source.socket !== null;
}

/**
 * Makes a request read its socket only when asked. Node's request streams read ahead to their
 * high-water mark (16 KiB, i.e. one whole socket read of up to 64 KiB) whenever their buffer is
 * empty, even while nobody reads: an upload waiting for its turn would hold that read. With the
 * mark at 0 a socket read happens only on `read()`. The field is Node's stream state, not public
 * API: on a Node where it is absent, this does nothing and uploads only hold more memory.
 */
function noReadAhead(source: IncomingMessage): void {
  const state = (source as unknown as { _readableState?: { highWaterMark?: unknown } })._readableState;
  if (state && typeof state.highWaterMark === 'number') state.highWaterMark = 0;
}

/**
 * The refusal for a body whose request closed before its 'end': the body was cut short, or the
 * client went away (or half-closed, which Node's server treats alike) while its last bytes waited
 * unread for the sink. A destroyed request never emits 'end', so either way the upload cannot finish.
 */
function bodyCut(source: IncomingMessage): ValetError {
  return new ValetError(
    'incomplete_body',
    source.complete
      ? 'the connection closed before the body was stored'
      : 'the body ended before its declared length',
  );
}

/**
 * A file system error as the client sees it: `507` when the disk is full, `503` when storage is
 * out of descriptors or its disk fails (the client may retry), else `500`.
 */
export function storageError(error: NodeJS.ErrnoException): ValetError {
  if (error instanceof ValetError) return error;
  if (error.code === 'ENOSPC' || error.code === 'EDQUOT') {
    return new ValetError('insufficient_storage', 'storage is full', { cause: error });
  }
  if (error.code === 'EMFILE' || error.code === 'ENFILE') {
    return new ValetError(
      'unavailable',
      'storage has no file descriptor free right now (too many open connections or files); retry shortly',
      { cause: error },
    );
  }
  if (error.code === 'EIO' || error.code === 'EROFS') {
    return new ValetError('unavailable', 'storage cannot write to its disk right now; retry later', {
      cause: error,
    });
  }
  return new ValetError('internal_error', 'storage failed to write the object', { cause: error });
}
