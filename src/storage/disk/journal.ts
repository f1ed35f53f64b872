import { fdatasync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { type Generation, journalFile, newGeneration, syncDir, syncFileSystem } from './journal-files.js';
import { decodeRecords, encodeRecord, type JournalRecord } from './journal-records.js';
import { closeFd, writeAll } from './object-file.js';

export { decodeRecords, encodeRecord, type JournalRecord } from './journal-records.js';

/**
 * The small-object journal: group commit for small uploads.
 *
 * Committing an object file durably costs two fsyncs (the file, then its directory after the
 * rename), one pair per upload. A small upload instead appends its whole object file (header and
 * body) to this journal; every upload that arrives while one flush runs joins the next, and one
 * `fdatasync` makes the whole batch durable. Then the upload's temporary file is renamed over the
 * object with no fsync: it is visible, and the journal holds it until a checkpoint has flushed
 * the file system (`sync -f`) and drops the journal file.
 *
 * After a crash, {@link Journal.open} returns the records of every journal file that was not
 * checkpointed, in order, up to the first torn or corrupt record (an append is acknowledged only
 * after its fdatasync, which also covers every earlier byte, so nothing after a bad record was
 * acknowledged). The store replays them (see `journal-replay.ts`). The records and their
 * encoding: `journal-records.ts`.
 */

const datasyncFd = promisify(fdatasync);

/** A journal file grows to about this size before a checkpoint rotates it. */
export const JOURNAL_ROTATE_BYTES = 32 * 1024 * 1024;
/** The longest a record waits in a journal file before a checkpoint, milliseconds. */
export const JOURNAL_CHECKPOINT_MS = 2_000;

interface Waiting {
  key: string;
  put: boolean;
  bytes: Buffer[];
  resolve: (generation: Generation) => void;
  reject: (error: unknown) => void;
}

/** Options for {@link Journal.open}. */
export interface JournalOptions {
  /** Flushes the file system at a checkpoint. Default `sync -f DIR`. */
  sync?: () => Promise<void>;
  /** The longest a record waits for a checkpoint, ms. Default {@link JOURNAL_CHECKPOINT_MS}. */
  checkpointMs?: number;
  /** Told when a checkpoint fails, with the delay before it is tried again (ms). */
  onCheckpointError?: (error: NodeJS.ErrnoException, retryMs: number) => void;
}

/** The first delay before a failed checkpoint is tried again, ms; it doubles up to the maximum. */
export const CHECKPOINT_RETRY_MIN_MS = 250;
const CHECKPOINT_RETRY_MAX_MS = 10_000;

/** A put made durable by the journal: call `applied()` once its rename has finished or failed. */
export interface JournalTicket {
  applied(): void;
}

/** See the module comment. One per data directory, owned by its `FileStore`. */
export class Journal {
  readonly #dir: string;
  readonly #sync: () => Promise<void>;
  readonly #checkpointMs: number;
  #current: Generation;
  #waiting: Waiting[] = [];
  // The flush loop while it runs (see #flush; it always awaits a write first, so this is set
  // before the loop can end and clear it).
  #flushing: Promise<void> | undefined;
  #batch: { generation: Generation; done: Promise<void> } | undefined;
  #rotating: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  // Keys with a record in a journal file not yet checkpointed, and the newest such file's number.
  readonly #keys = new Map<string, number>();
  // A file retired by a checkpoint that has not finished yet (it failed and will be retried).
  #retiring: Generation | undefined;
  #failure: NodeJS.ErrnoException | undefined;
  #retryMs = CHECKPOINT_RETRY_MIN_MS;
  readonly #onError: (error: NodeJS.ErrnoException, retryMs: number) => void;
  #closed = false;
  /** Flushes so far (each one fdatasync), for tests and benchmarks. */
  flushes = 0;
  /** Told of each flush: its seconds and how many records it made durable (metrics). */
  onFlush: ((seconds: number, records: number) => void) | undefined;

  private constructor(dir: string, current: Generation, options: Required<JournalOptions>) {
    this.#dir = dir;
    this.#current = current;
    this.#sync = options.sync;
    this.#checkpointMs = options.checkpointMs;
    this.#onError = options.onCheckpointError;
  }

  /**
   * Opens the journal in `dir`: returns the records left by a crash (in order) and a function
   * that, once the caller has replayed them, flushes the file system and removes their files.
   */
  static async open(
    dir: string,
    options: JournalOptions = {},
  ): Promise<{ journal: Journal; records: JournalRecord[]; recovered: () => Promise<void> }> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const sync = options.sync ?? (() => syncFileSystem(dir));
    const numbers = (await fs.readdir(dir))
      .map((name) => /^(\d+)\.log$/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const records: JournalRecord[] = [];
    for (const n of numbers) records.push(...decodeRecords(await fs.readFile(journalFile(dir, n))));
    const current = await newGeneration(dir, (numbers.at(-1) ?? 0) + 1);
    const journal = new Journal(dir, current, {
      sync,
      checkpointMs: options.checkpointMs ?? JOURNAL_CHECKPOINT_MS,
      onCheckpointError: options.onCheckpointError ?? (() => {}),
    });
    const recovered = async () => {
      if (numbers.length === 0) return;
      await sync();
      for (const n of numbers) await fs.rm(journalFile(dir, n), { force: true });
      await syncDir(dir);
    };
    return { journal, records, recovered };
  }

  /** Waits for a checkpoint in progress, if any (tests). */
  async settled(): Promise<void> {
    await this.#rotating;
  }

  /** True if `key` has a record in a journal file not yet checkpointed. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Appends a `put` and resolves once it is durable; then rename, and call `applied()`. */
  async put(key: string, keyId: string, content: Buffer[]): Promise<JournalTicket> {
    // The flush counted it in `applying` before resolving: a checkpoint waits for it from then on.
    const generation = await this.#append({ kind: 'put', key, keyId, content });
    let done = false;
    return {
      applied: () => {
        if (done) return;
        done = true;
        generation.applying--;
        if (generation.applying === 0) generation.applied?.();
      },
    };
  }

  /** Appends a `delete`, `supersede` or `void` record and resolves once it is durable. */
  async mark(record: Exclude<JournalRecord, { kind: 'put' }>): Promise<void> {
    await this.#append(record);
  }

  #append(record: JournalRecord): Promise<Generation> {
    if (this.#closed) return Promise.reject(new Error('the journal is closed'));
    return new Promise((resolve, reject) => {
      this.#waiting.push({
        key: record.key,
        put: record.kind === 'put',
        bytes: encodeRecord(record),
        resolve,
        reject,
      });
      // Marked at once (so a delete or a supersede of the key appends its record), and with the
      // number of the file it lands in when the flush takes it.
      this.#keys.set(record.key, Number.MAX_SAFE_INTEGER);
      this.#flushing ??= this.#flush();
    });
  }

  /** Writes and fdatasyncs everything waiting, batch after batch, while anything waits. */
  async #flush(): Promise<void> {
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0);
        const generation = this.#current;
        let finished = () => {};
        this.#batch = { generation, done: new Promise<void>((resolve) => (finished = resolve)) };
        try {
          await this.#write(batch, generation);
        } finally {
          this.#batch = undefined;
          finished();
        }
        // While checkpoints fail, the next try waits for its delay (see #checkpointFailed).
        if (generation.size >= JOURNAL_ROTATE_BYTES && !this.#failure) this.#rotate();
        else this.#timer ??= setTimeout(() => this.#rotate(), this.#checkpointMs).unref();
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** One batch: written, fdatasynced, its puts counted as applying, its appends resolved. */
  async #write(batch: Waiting[], generation: Generation): Promise<void> {
    const bytes = batch.flatMap((w) => w.bytes);
    const total = bytes.reduce((n, b) => n + b.length, 0);
    const started = performance.now();
    try {
      await writeAll(generation.fd, bytes, generation.size);
      await datasyncFd(generation.fd);
      this.onFlush?.((performance.now() - started) / 1000, batch.length);
    } catch (error) {
      // Whatever landed past `size` is overwritten by the next batch (or is a torn tail).
      for (const w of batch) w.reject(error);
      return;
    }
    generation.size += total;
    this.flushes++;
    for (const w of batch) {
      if (this.#keys.get(w.key) === Number.MAX_SAFE_INTEGER) this.#keys.set(w.key, generation.n);
      if (w.put) generation.applying++;
      w.resolve(generation);
    }
  }

  /** Starts a checkpoint of the current file: new records go to a new one. */
  #rotate(): void {
    if (this.#rotating || this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#rotating = this.#checkpoint()
      .then(
        () => {
          this.#failure = undefined;
          this.#retryMs = CHECKPOINT_RETRY_MIN_MS;
        },
        (error: unknown) => this.#checkpointFailed(error),
      )
      .finally(() => {
        this.#rotating = undefined;
      });
  }

  /**
   * A checkpoint that failed (no descriptor left, EIO, a full disk, the sync command missing)
   * never ends the process: the journal stays as it is (every record in it is durable, and a
   * replay would apply it), the failure is reported, and the checkpoint is tried again with a
   * growing delay. Meanwhile the store refuses new small uploads (see {@link Journal.failure}).
   */
  #checkpointFailed(error: unknown): void {
    this.#failure = error as NodeJS.ErrnoException;
    this.#onError(this.#failure, this.#retryMs);
    if (this.#closed) return;
    this.#timer = setTimeout(() => this.#rotate(), this.#retryMs).unref();
    this.#retryMs = Math.min(this.#retryMs * 2, CHECKPOINT_RETRY_MAX_MS);
  }

  /**
   * Retires the current file (once: a retry after a failure goes on with the same one), waits
   * for its renames, flushes the file system and drops the file. Each step may fail and be
   * tried again: none undoes an earlier one.
   */
  async #checkpoint(): Promise<void> {
    if (!this.#retiring) {
      const old = this.#current;
      this.#current = await newGeneration(this.#dir, old.n + 1);
      this.#retiring = old;
    }
    const old = this.#retiring;
    // A batch being written to the old file still counts: wait for it, then for its renames.
    if (this.#batch?.generation === old) await this.#batch.done;
    if (old.applying > 0) await new Promise<void>((resolve) => (old.applied = resolve));
    await this.#sync();
    if (old.fd !== -1) {
      const fd = old.fd;
      old.fd = -1;
      // Linux releases the descriptor even when close reports an error: never closed twice.
      await closeFd(fd).catch(() => {});
    }
    await fs.rm(old.file, { force: true });
    this.#retiring = undefined;
    for (const [key, n] of this.#keys) if (n <= old.n) this.#keys.delete(key);
    if (this.#current.size > 0 && !this.#closed)
      this.#timer ??= setTimeout(() => this.#rotate(), this.#checkpointMs).unref();
  }

  /**
   * Why the last checkpoint failed, while it keeps failing (undefined once one succeeds). The
   * store refuses new small uploads meanwhile, and readiness reports it.
   */
  get failure(): NodeJS.ErrnoException | undefined {
    return this.#failure;
  }

  /**
   * Closes the journal. With `checkpoint` (a normal shutdown), everything is checkpointed first
   * and no journal file is left; without it (tests of a crash), the files stay for a replay.
   */
  async close(options: { checkpoint?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    while (this.#flushing || this.#rotating) await (this.#flushing ?? this.#rotating);
    clearTimeout(this.#timer);
    try {
      if (options.checkpoint !== false && (this.#current.size > 0 || this.#retiring))
        await this.#checkpoint();
    } catch (error) {
      // The files stay for the next start to replay: nothing is lost.
      this.#onError(error as NodeJS.ErrnoException, 0);
      this.#failure = error as NodeJS.ErrnoException;
    } finally {
      this.#closed = true;
      clearTimeout(this.#timer);
      if (this.#retiring && this.#retiring.fd !== -1) await closeFd(this.#retiring.fd).catch(() => {});
      await closeFd(this.#current.fd).catch(() => {});
    }
    if (this.#current.size === 0 && !this.#failure) await fs.rm(this.#current.file, { force: true });
  }
}
