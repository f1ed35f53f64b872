import { createHash, randomBytes } from 'node:crypto';
import { access, constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ValetError } from '../../token/errors.js';
import { checkFormat, prepareFolders } from './data-dir.js';
import { Journal, type JournalTicket } from './journal.js';
import { replayJournal } from './journal-replay.js';
import { type ObjectMeta, openFd } from './object-file.js';
import { type OpenObject, openObjectFile } from './object-reader.js';
import { SpareFiles } from './spare-files.js';
import { takeLockFile } from './store-lock.js';
import { releaseContent, SMALL_BODY, storageError, Upload } from './upload-file.js';

export { HEADER_SIZE, type ObjectMeta } from './object-file.js';
export type { OpenObject } from './object-reader.js';

/**
 * Valet's on-disk object store.
 *
 * Layout of the data directory:
 * ```
 * DIR/format.json          format marker {"format":"valet-storage","version":1}
 * DIR/storage.lock         PID of the server using the directory
 * DIR/ledger.sqlite        single-use key ledger (see ledger.ts)
 * DIR/held.sqlite          versions held until the issuer publishes them (see held-versions.ts)
 * DIR/objects/xx/<sha256>  one file per object: 4 KiB metadata header, then the bytes
 * DIR/tmp/<random>.part    uploads in progress (swept at start-up)
 * DIR/spare/<random>       files of replaced versions, for the next uploads (spare-files.ts)
 * DIR/journal/<n>.log      small uploads not yet checkpointed (replayed at start-up; see journal.ts)
 * DIR/uploads/<id>.json    a resumable (tus) upload: its scope and limits (see uploads.ts)
 * DIR/uploads/<id>.part    its bytes so far, after a 4 KiB header space (kept across restarts)
 * DIR/revocations.json     the issuer's last revocation list and when it confirmed it (revocations.ts)
 * ```
 *
 * An object's file name is the SHA-256 of its key, so no key, however encoded, can name a path
 * outside `objects/`. Metadata lives in the same file as the bytes, so a single `rename` (or
 * `link` for create-only) commits both: a reader sees the old object or the new one, never a mix.
 */

const accessFile = promisify(access);
const TMP_SUFFIX = '.part';

/** Data directories opened by a store of this process (the lock file only tells processes apart). */
const openInThisProcess = new Set<string>();

/** Options for {@link FileStore.open}. */
export interface FileStoreOptions {
  /** Called for each leftover temporary file removed at start-up. */
  onSweep?: (file: string) => void;
  /** Called with the number of objects a journal replay wrote or removed at start-up. */
  onReplay?: (objects: number) => void;
  /**
   * Small uploads go through the journal (group commit, see journal.ts). Default true; false
   * commits every upload with its own fsyncs.
   */
  journal?: boolean;
  /** How the journal flushes the file system at a checkpoint (tests count or replace it). */
  syncFileSystem?: () => Promise<void>;
  /** The longest a record waits for a checkpoint, ms (tests). Default 2 s. */
  journalCheckpointMs?: number;
  /** Told when a journal checkpoint fails, with the delay before it is tried again (ms). */
  onCheckpointError?: (error: NodeJS.ErrnoException, retryMs: number) => void;
}

/** The object store of one data directory. Only one process may use a directory at a time. */
export class FileStore {
  readonly dir: string;
  readonly #objects: string;
  readonly #tmp: string;
  readonly #spare: string;
  readonly #lockFile: string;
  // Shard directories stay open so that committing an object costs one fsync, not open+fsync+close.
  readonly #dirHandles = new Map<string, Promise<fs.FileHandle>>();
  readonly #tmpPrefix = `${process.pid.toString(36)}-${randomBytes(6).toString('hex')}`;
  #tmpCounter = 0;
  #closed = false;
  #journal: Journal | undefined;
  readonly #spares = new SpareFiles(() => this.#uniqueName(this.#spare));

  private constructor(dir: string) {
    this.dir = dir;
    this.#objects = path.join(dir, 'objects');
    this.#tmp = path.join(dir, 'tmp');
    this.#spare = path.join(dir, 'spare');
    this.#lockFile = path.join(dir, 'storage.lock');
  }

  /**
   * Opens (creating if needed) a data directory: checks its format, takes the lock, removes
   * temporary files left by a crash and creates the 256 shard directories.
   */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const store = new FileStore(path.resolve(dir));
    await fs.mkdir(store.dir, { recursive: true, mode: 0o700 });
    await checkFormat(store.dir);
    await store.#lock();
    try {
      await prepareFolders(
        store.dir,
        { tmp: store.#tmp, spare: store.#spare, objects: store.#objects },
        options.onSweep,
      );
      if (options.journal !== false) await store.#openJournal(options);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Opens the journal and replays what a crash left in it, before anything is served. */
  async #openJournal(options: FileStoreOptions): Promise<void> {
    const { journal, records, recovered } = await Journal.open(path.join(this.dir, 'journal'), {
      ...(options.syncFileSystem && { sync: options.syncFileSystem }),
      ...(options.journalCheckpointMs !== undefined && { checkpointMs: options.journalCheckpointMs }),
      ...(options.onCheckpointError && { onCheckpointError: options.onCheckpointError }),
    });
    this.#journal = journal;
    if (records.length === 0) return;
    const changed = await replayJournal(records, {
      pathFor: (key) => this.pathFor(key),
      tmpName: () => this.#tmpName(),
    });
    await recovered();
    options.onReplay?.(changed);
  }

  #tmpName(): string {
    return this.#uniqueName(this.#tmp, TMP_SUFFIX);
  }

  /** A name no other file of this store's lifetime has: the process's prefix and a counter. */
  #uniqueName(dir: string, suffix = ''): string {
    return path.join(dir, `${this.#tmpPrefix}-${(this.#tmpCounter++).toString(36)}${suffix}`);
  }

  async #lock(): Promise<void> {
    // The lock file holds a PID, which cannot tell two stores of one process apart.
    if (openInThisProcess.has(this.dir))
      throw new ValetError('invalid_options', `${this.dir} is in use by this process`);
    openInThisProcess.add(this.dir);
    try {
      await takeLockFile(this.#lockFile);
    } catch (error) {
      openInThisProcess.delete(this.dir);
      throw error;
    }
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
   * Opens an object for reading, or returns undefined if it does not exist (see
   * {@link openObjectFile}): one consistent version, even if it is replaced meanwhile.
   */
  async open(key: string): Promise<OpenObject | undefined> {
    // Counted as a reader until it closes the file: its version's file is not reused meanwhile.
    const done = this.#spares.reading(key);
    try {
      const object = await openObjectFile(this.pathFor(key), key);
      if (!object) done();
      return object && readerOf(object, done);
    } catch (error) {
      done();
      throw error;
    }
  }

  /** How many files of replaced versions wait for the next uploads (tests). */
  get spareFiles(): number {
    return this.#spares.size;
  }

  /**
   * Why the journal cannot checkpoint, while it cannot (see `Journal.failure`): readiness says
   * so, and small uploads are refused meanwhile.
   */
  get journalFailure(): NodeJS.ErrnoException | undefined {
    return this.#journal?.failure;
  }

  /** Tells `observe` of each journal flush: its seconds and its records (metrics). */
  observeJournal(observe: (seconds: number, records: number) => void): void {
    if (this.#journal) this.#journal.onFlush = observe;
  }

  /**
   * Refuses an upload that would go through the journal while its checkpoints fail (`503`, or
   * `507` when the disk is full): taken, it would grow a journal that cannot be emptied.
   * `declaredSize` undefined: the size is not known yet (checked again at seal).
   */
  refuseIfJournalFailing(declaredSize: number | undefined, noOverwrite: boolean): void {
    const failure = this.#journal?.failure;
    if (!failure || noOverwrite || (declaredSize !== undefined && declaredSize > SMALL_BODY)) return;
    const refusal = storageError(failure);
    throw refusal.code === 'internal_error'
      ? new ValetError('unavailable', 'storage cannot flush its journal right now; retry later', {
          cause: failure,
        })
      : refusal;
  }

  /** Starts an upload into a spare file (see spare-files.ts) or a new temporary file. */
  async beginUpload(): Promise<Upload> {
    const spare = await this.#spares.take();
    if (spare) return new Upload(spare.file, spare.fd, undefined, spare.size);
    // Unique without a random draw per upload: a per-process random prefix and a counter ('wx'
    // would refuse a clash anyway); open for reading too: the hashing thread reads it back.
    const file = this.#tmpName();
    const fd = await openFd(file, 'wx+', 0o600).catch((error) => {
      throw storageError(error);
    });
    return new Upload(file, fd);
  }

  /**
   * Seals an upload for commit. A small one (body in memory) that may replace an object goes
   * through the journal: written without fsync, appended to the journal, and durable once this
   * resolves (a full disk: 507), with the ticket for {@link commit}. Others are fsynced.
   */
  async seal(upload: Upload, meta: ObjectMeta, noOverwrite: boolean): Promise<JournalTicket | undefined> {
    if (!this.#journal || noOverwrite || !upload.inMemory) {
      await upload.seal(meta);
      return undefined;
    }
    this.refuseIfJournalFailing(undefined, noOverwrite);
    const content = await upload.seal(meta, { durable: false });
    try {
      return await this.#journal.put(meta.key, meta.keyId, content);
    } catch (error) {
      throw storageError(error as NodeJS.ErrnoException);
    } finally {
      releaseContent(content);
    }
  }

  /**
   * Makes a sealed upload the object `key`, atomically. With `noOverwrite`, uses `link(2)`, which
   * fails if the name exists, so of two racing create-only uploads exactly one wins.
   * Returns true if the object did not exist before.
   */
  async commit(
    upload: Upload,
    key: string,
    options: { noOverwrite: boolean; keyId?: string; ticket?: JournalTicket },
  ): Promise<boolean> {
    const { ticket } = options;
    if (ticket) return this.#commitJournaled(upload, key, options.keyId ?? '', ticket);
    // A version committed the fsync way over a key with a journaled put: tell a replay.
    if (this.#journal?.has(key))
      await this.#journal.mark({ kind: 'supersede', key, keyId: options.keyId ?? '' });
    const target = this.pathFor(key);
    if (options.noOverwrite) {
      try {
        await fs.link(upload.file, target);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new ValetError('precondition_failed', 'the object already exists and the key is create-only');
        }
        throw error;
      }
      upload.committed = true;
      await fs.unlink(upload.file);
      await this.#syncDir(path.dirname(target));
      return true;
    }
    const kept = await this.#spares.keep(target);
    let landed = false;
    try {
      const created = !(kept.existed ?? (await this.exists(key)));
      await fs.rename(upload.file, target);
      upload.committed = true;
      await this.#syncDir(path.dirname(target));
      landed = true;
      return created;
    } finally {
      await this.#spares.settle(key, kept, landed);
    }
  }

  /** The rename of a journaled small upload: no fsync, the journal holds it until a checkpoint. */
  async #commitJournaled(
    upload: Upload,
    key: string,
    keyId: string,
    ticket: JournalTicket,
  ): Promise<boolean> {
    const target = this.pathFor(key);
    const kept = await this.#spares.keep(target);
    try {
      const created = !(kept.existed ?? (await this.exists(key)));
      await fs.rename(upload.file, target);
      upload.committed = true;
      // The journal holds the new version until a checkpoint: the old one may be reused now.
      await this.#spares.settle(key, kept, true);
      return created;
    } catch (error) {
      if (!upload.committed) await this.#spares.settle(key, kept, false);
      // Not committed: a replay must not make it the object.
      await this.#journal?.mark({ kind: 'void', key, keyId });
      throw error;
    } finally {
      ticket.applied();
    }
  }

  /** A journaled upload that will not be committed (refused after its seal): a replay skips it. */
  async abandon(key: string, keyId: string, ticket: JournalTicket): Promise<void> {
    try {
      await this.#journal?.mark({ kind: 'void', key, keyId });
    } finally {
      ticket.applied();
    }
  }

  /** Deletes an object; false if it did not exist. */
  async delete(key: string): Promise<boolean> {
    // Recorded first, so that a replay of a journaled put does not bring the object back.
    if (this.#journal?.has(key)) await this.#journal.mark({ kind: 'delete', key });
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

  /**
   * Checkpoints the journal, closes directory handles and releases the lock. `crash` (tests
   * only) leaves the journal as a crash would, for the next open to replay.
   */
  async close(options: { crash?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#journal?.close({ checkpoint: options.crash !== true });
    for (const pending of this.#dirHandles.values()) {
      await pending.then((h) => h.close()).catch(() => {});
    }
    this.#dirHandles.clear();
    const owner = await fs.readFile(this.#lockFile, 'utf8').catch(() => '');
    if (Number.parseInt(owner, 10) === process.pid) await fs.rm(this.#lockFile, { force: true });
    openInThisProcess.delete(this.dir);
  }
}

/** `object`, telling `done` once its file is closed, by `send` or `close`. */
function readerOf(object: OpenObject, done: () => void): OpenObject {
  return {
    ...object,
    send: (out, start, end, options) => object.send(out, start, end, options).finally(done),
    close: () => object.close().finally(done),
  };
}
