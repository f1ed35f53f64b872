import { createHash, randomBytes } from 'node:crypto';
import {
  access,
  createWriteStream,
  close as fsClose,
  constants as fsConstants,
  open as fsOpen,
  fsync,
  read,
  writev,
} from 'node:fs';
import * as fs from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { ValetError } from '../token/errors.js';

/**
 * Valet's on-disk object store.
 *
 * Layout of the data directory:
 * ```
 * DIR/format.json          format marker {"format":"valet-storage","version":1}
 * DIR/storage.lock         PID of the server using the directory
 * DIR/ledger.sqlite        single-use key ledger (see ledger.ts)
 * DIR/objects/xx/<sha256>  one file per object: 4 KiB metadata header, then the bytes
 * DIR/tmp/<random>.part    uploads in progress (swept at start-up)
 * DIR/uploads/<id>.json    a resumable (tus) upload: its scope and limits (see uploads.ts)
 * DIR/uploads/<id>.part    its bytes so far, after a 4 KiB header space (kept across restarts)
 * ```
 *
 * An object's file name is the SHA-256 of its key, so no key, however encoded, can name a path
 * outside `objects/`. Metadata lives in the same file as the bytes, so a single `rename` (or
 * `link` for create-only) commits both: a reader sees the old object or the new one, never a mix.
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
const openFd = promisify(fsOpen);
const readFd = promisify(read);
const fsyncFd = promisify(fsync);
const closeFd = promisify(fsClose);
const accessFile = promisify(access);

/** Bytes read from disk per step of a download. */
export const SEND_CHUNK = 256 * 1024;

/** See {@link OpenObject.send}. */
async function sendFileRange(fd: number, first: number, last: number, out: Writable): Promise<void> {
  const buffers = [Buffer.allocUnsafe(SEND_CHUNK), Buffer.allocUnsafe(SEND_CHUNK)];
  // The write of each buffer still in flight: a buffer is read into again only once the socket took it.
  const inFlight: Array<Promise<void> | undefined> = [undefined, undefined];
  let closed = out.destroyed;
  const onClose = () => {
    closed = true;
  };
  out.on('close', onClose);
  const written = (chunk: Buffer) =>
    new Promise<void>((resolve) => {
      // A destroyed socket may never call back: 'close' settles the wait instead.
      const settle = () => {
        out.off('close', settle);
        resolve();
      };
      out.once('close', settle);
      out.write(chunk, settle);
    });
  try {
    let position = first;
    for (let slot = 0; position <= last && !closed; slot ^= 1) {
      await inFlight[slot];
      if (closed) break;
      const buffer = buffers[slot] as Buffer;
      const length = Math.min(SEND_CHUNK, last - position + 1);
      const { bytesRead } = await readFd(fd, buffer, 0, length, position);
      if (bytesRead === 0) throw new Error('the object file is shorter than its header says');
      position += bytesRead;
      inFlight[slot] = written(buffer.subarray(0, bytesRead));
    }
    await Promise.all(inFlight);
    if (!closed) await new Promise<void>((resolve) => out.end(resolve));
  } finally {
    out.off('close', onClose);
  }
}

/** Writes every byte of `buffers` at `position` of `fd` (short writes are continued). */
export async function writeAll(fd: number, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
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
const MAGIC = Buffer.from('VALETOB1', 'latin1');
const FORMAT = { format: 'valet-storage', version: 1 } as const;
const TMP_SUFFIX = '.part';

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
   * allocates nothing per chunk, which keeps the garbage collector out of the data path.
   * Resolves early, without error, if `out` is closed by the client.
   */
  send(out: Writable, start: number, end: number): Promise<void>;
  /** Closes the fd without sending. */
  close(): Promise<void>;
}

/** Bytes read in one go when an object is opened: the header and, for small objects, the whole body. */
export const READ_AHEAD = 64 * 1024;

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

/** Data directories opened by a store of this process (the lock file only tells processes apart). */
const openInThisProcess = new Set<string>();

/** Options for {@link FileStore.open}. */
export interface FileStoreOptions {
  /** Called for each leftover temporary file removed at start-up. */
  onSweep?: (file: string) => void;
}

/** The object store of one data directory. Only one process may use a directory at a time. */
export class FileStore {
  readonly dir: string;
  readonly #objects: string;
  readonly #tmp: string;
  readonly #lockFile: string;
  // Shard directories stay open so that committing an object costs one fsync, not open+fsync+close.
  readonly #dirHandles = new Map<string, Promise<fs.FileHandle>>();
  readonly #tmpPrefix = `${process.pid.toString(36)}-${randomBytes(6).toString('hex')}`;
  #tmpCounter = 0;
  #closed = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.#objects = path.join(dir, 'objects');
    this.#tmp = path.join(dir, 'tmp');
    this.#lockFile = path.join(dir, 'storage.lock');
  }

  /**
   * Opens (creating if needed) a data directory: checks its format, takes the lock, removes
   * temporary files left by a crash and creates the 256 shard directories.
   */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const store = new FileStore(path.resolve(dir));
    await fs.mkdir(store.dir, { recursive: true, mode: 0o700 });
    await store.#checkFormat();
    await store.#lock();
    try {
      await fs.mkdir(store.#tmp, { recursive: true, mode: 0o700 });
      await fs.mkdir(store.#objects, { recursive: true, mode: 0o700 });
      for (const file of await fs.readdir(store.#tmp)) {
        await fs.rm(path.join(store.#tmp, file), { force: true, recursive: true });
        options.onSweep?.(file);
      }
      for (let i = 0; i < 256; i++) {
        await fs.mkdir(path.join(store.#objects, i.toString(16).padStart(2, '0')), {
          recursive: true,
          mode: 0o700,
        });
      }
      await fsyncDir(store.#objects);
      await fsyncDir(store.dir);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async #checkFormat(): Promise<void> {
    const file = path.join(this.dir, 'format.json');
    try {
      const found = JSON.parse(await fs.readFile(file, 'utf8'));
      if (found?.format !== FORMAT.format || found?.version !== FORMAT.version) {
        throw new ValetError(
          'invalid_options',
          `${this.dir} holds data of an unknown format: ${JSON.stringify(found)}`,
        );
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        if (error instanceof ValetError) throw error;
        throw new ValetError('invalid_options', `cannot read ${file}`, { cause: error });
      }
      const entries = (await fs.readdir(this.dir)).filter((e) => !e.startsWith('.'));
      if (entries.length > 0) {
        throw new ValetError('invalid_options', `${this.dir} is not empty and is not a Valet data directory`);
      }
      await fs.writeFile(file, `${JSON.stringify(FORMAT)}\n`, { mode: 0o600 });
    }
  }

  async #lock(): Promise<void> {
    // The lock file holds a PID, which cannot tell two stores of one process apart.
    if (openInThisProcess.has(this.dir))
      throw new ValetError('invalid_options', `${this.dir} is in use by this process`);
    openInThisProcess.add(this.dir);
    try {
      await this.#lockFileTake();
    } catch (error) {
      openInThisProcess.delete(this.dir);
      throw error;
    }
  }

  async #lockFileTake(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(this.#lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const pid = Number.parseInt(await fs.readFile(this.#lockFile, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new ValetError('invalid_options', `${this.dir} is in use by process ${pid}`);
      }
      // The owner is gone (it crashed): take the directory over.
      await fs.rm(this.#lockFile, { force: true });
    }
    throw new ValetError('invalid_options', `cannot lock ${this.dir}`);
  }

  /** The file that holds an object. Never derived from the key's characters, only its hash. */
  pathFor(key: string): string {
    const hex = createHash('sha256').update(key, 'utf8').digest('hex');
    return path.join(this.#objects, hex.slice(0, 2), hex);
  }

  /** The directory of temporary upload files. */
  get tmpDir(): string {
    return this.#tmp;
  }

  /** True if the object exists. */
  async exists(key: string): Promise<boolean> {
    try {
      await accessFile(this.pathFor(key), fsConstants.F_OK);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Opens an object for reading, or returns undefined if it does not exist. The handle stays
   * valid even if the object is replaced or deleted meanwhile (POSIX unlink semantics), so a
   * reader always streams one consistent version.
   */
  async open(key: string): Promise<OpenObject | undefined> {
    let fd: number;
    try {
      fd = await openFd(this.pathFor(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
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
        send: async (out, start, end) => {
          try {
            await sendFileRange(fd, HEADER_SIZE + start, HEADER_SIZE + end, out);
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

  /** Starts an upload into a new temporary file. */
  async beginUpload(): Promise<Upload> {
    // Unique without a random draw per upload: a per-process random prefix and a counter ('wx'
    // would refuse a clash anyway).
    const file = path.join(this.#tmp, `${this.#tmpPrefix}-${(this.#tmpCounter++).toString(36)}${TMP_SUFFIX}`);
    const fd = await openFd(file, 'wx', 0o600);
    return new Upload(file, fd);
  }

  /**
   * Makes a sealed upload the object `key`, atomically. With `noOverwrite`, uses `link(2)`, which
   * fails if the name exists, so of two racing create-only uploads exactly one wins.
   * Returns true if the object did not exist before.
   */
  async commit(
    upload: Upload,
    key: string,
    options: { noOverwrite: boolean; existed?: Promise<boolean> },
  ): Promise<boolean> {
    const target = this.pathFor(key);
    let created: boolean;
    if (options.noOverwrite) {
      try {
        await fs.link(upload.file, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new ValetError('precondition_failed', 'the object already exists and the key is create-only');
        }
        throw error;
      }
      created = true;
      upload.committed = true;
      await fs.unlink(upload.file);
    } else {
      created = !(await (options.existed ?? this.exists(key)));
      await fs.rename(upload.file, target);
      upload.committed = true;
    }
    await this.#syncDir(path.dirname(target));
    return created;
  }

  /** Deletes an object; false if it did not exist. */
  async delete(key: string): Promise<boolean> {
    const target = this.pathFor(key);
    try {
      await fs.unlink(target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    await this.#syncDir(path.dirname(target));
    return true;
  }

  async #syncDir(dir: string): Promise<void> {
    let pending = this.#dirHandles.get(dir);
    if (!pending) {
      pending = fs.open(dir, 'r');
      this.#dirHandles.set(dir, pending);
      pending.catch(() => this.#dirHandles.delete(dir));
    }
    await (await pending).sync();
  }

  /** Closes directory handles and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#dirHandles.values()) {
      await pending.then((h) => h.close()).catch(() => {});
    }
    this.#dirHandles.clear();
    const owner = await fs.readFile(this.#lockFile, 'utf8').catch(() => '');
    if (Number.parseInt(owner, 10) === process.pid) await fs.rm(this.#lockFile, { force: true });
    openInThisProcess.delete(this.dir);
  }
}

/** Limits enforced while a body streams in. */
export interface ReceiveLimits {
  /** Largest body in bytes; the first byte past it fails the upload with `entity_too_large`. */
  maxSize?: number;
  /** The declared `Content-Length`, if any (Node's parser guarantees the body is not longer). */
  declaredSize?: number;
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

/** Where a body's bytes go while it streams in. */
interface BodySink {
  /** Takes a chunk; false asks the source to pause until the sink drains. */
  write(chunk: Buffer): boolean;
  /** Every byte is in: resolves once all are written. */
  finish(): Promise<void>;
  /** The upload failed: resolves once no write is in flight, never rejects. */
  abandon(): Promise<void>;
}

/** A small body kept in memory (the caller bounds it by its declared length). */
function memorySink(chunks: Buffer[]): BodySink {
  return {
    write: (chunk) => chunks.push(chunk) > 0,
    finish: () => Promise.resolve(),
    abandon: () => Promise.resolve(),
  };
}

/** A body written through an fs write stream at {@link HEADER_SIZE} of an fd the sink does not own. */
function fileSink(
  fd: number,
  onDrain: () => void,
  onError: (error: NodeJS.ErrnoException) => void,
): BodySink {
  const out = createWriteStream('', {
    fd,
    start: HEADER_SIZE,
    autoClose: false,
    highWaterMark: WRITE_HIGH_WATER_MARK,
  });
  out.on('drain', onDrain);
  // Stays attached: a second 'error' must never go unhandled.
  out.on('error', onError);
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
    write: (chunk) => out.write(chunk),
    finish() {
      const done = ended();
      out.end();
      return done;
    },
    // Never destroy `out`: destroying an fs stream closes its fd even with autoClose off, and
    // the fd is closed once, by seal() or discard(). Ending it lets a write in flight (and at
    // most one buffer) land in the temporary file, which is then discarded; only then may the
    // fd be closed, whose number the kernel hands out again at once.
    async abandon() {
      out.off('drain', onDrain);
      if (out.writableFinished || out.errored) return;
      const done = ended();
      out.end();
      await done.catch(() => {});
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

  constructor(file: string, fd: number) {
    this.file = file;
    this.#fd = fd;
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
    const hash = createHash('sha256');
    let size = 0;
    return new Promise<Received>((resolve, reject) => {
      let settled = false;
      const detach = () => {
        source.off('data', onData);
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
            () => source.resume(),
            (error) => fail(storageError(error)),
          );
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (limits.maxSize !== undefined && size > limits.maxSize) {
          source.pause();
          fail(bodyTooLarge(limits.maxSize));
          return;
        }
        hash.update(chunk);
        if (!sink.write(chunk)) source.pause();
      };
      const onEnd = () => {
        detach();
        sink.finish().then(
          () => {
            if (settled) return;
            settled = true;
            if (small) this.#body = Buffer.concat(chunks, size);
            resolve({ size, sha256: hash.digest('hex') });
          },
          (error: NodeJS.ErrnoException) => fail(storageError(error)),
        );
      };
      const onClose = () => {
        if (!source.complete)
          fail(new ValetError('incomplete_body', 'the body ended before its declared length'));
      };
      if (source.destroyed) {
        // The connection went away before the upload started: its 'close' has already fired.
        fail(new ValetError('incomplete_body', 'the connection closed before the body was received'));
        return;
      }
      source.on('data', onData);
      source.on('end', onEnd);
      source.on('close', onClose);
      source.on('error', onClose);
      source.resume();
    });
  }

  /** Writes the metadata header (with a small body), fsyncs and closes the file: it is then ready to commit. */
  async seal(meta: ObjectMeta): Promise<void> {
    const fd = this.#fd;
    if (fd === undefined) throw new Error('upload already closed');
    try {
      const header = encodeHeader(meta);
      await writeAll(fd, this.#body ? [header, this.#body] : [header], 0);
      this.#body = undefined;
      await fsyncFd(fd);
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

/** The refusal for a body over the key's maximum. */
export function bodyTooLarge(maxSize: number): ValetError {
  return new ValetError('entity_too_large', `the body is larger than the ${maxSize} bytes the key allows`);
}

/** The refusal for a body under the key's minimum. */
export function bodyTooSmall(minSize: number): ValetError {
  return new ValetError('entity_too_small', `the body is smaller than the ${minSize} bytes the key requires`);
}

function storageError(error: NodeJS.ErrnoException): ValetError {
  if (error.code === 'ENOSPC' || error.code === 'EDQUOT') {
    return new ValetError('insufficient_storage', 'storage is full', { cause: error });
  }
  return new ValetError('internal_error', 'storage failed to write the object', { cause: error });
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
