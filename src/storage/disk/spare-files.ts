import { fstatSync, link, statSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { closeFd, openFd } from './object-file.js';

/**
 * Spare files: the files of replaced versions, kept and reused for the next uploads instead of
 * being freed.
 *
 * Replacing an object renames a new file over it, which frees the old version's inode, and every
 * upload creates a new one. Creating and freeing an inode per request is the bulk of a small
 * upload's cost on some file systems: ext4 without a journal skips, inode by inode, every inode
 * freed in the last seconds before it allocates one, under the directory's lock (most of the
 * kernel time of a 4 KiB PUT at 2,000 requests/s on such a disk). So just before the rename the
 * old version gets a second name in spare/ (`link`), which keeps its inode; once the new version
 * has landed, the next upload writes over its bytes, and cuts off what is left past its own
 * (`O_TRUNC` instead would free every block, and make ext4 flush the file at its close). At
 * steady state a replacing upload of an unchanged size neither allocates nor frees an inode or
 * a block, with no more system calls than before (a link instead of the existence check the
 * answer needed anyway).
 *
 * Reuse must never touch bytes someone may still read: a reader keeps its version's file open
 * after a replace (POSIX semantics) and streams it. So every reader of a key is counted from
 * before it opens the file until it closes it, and an old version is kept only if no reader of
 * its key is counted once the new version is in place: a reader that could hold the old file
 * started before the rename finished, so it is counted then unless it has already closed it
 * (storage is the only process using its data directory). Only one replace of a key at a time
 * keeps its old version (two racing would give one file two spare names, and two uploads would
 * write into it), so a spare's only name is its own.
 *
 * A replaced version's bytes stay in its spare (spare/ is readable by storage's user only) until
 * an upload reuses it; at most {@link MAX_SPARES} are kept, none larger than
 * {@link MAX_SPARE_BYTES}. At start-up spare/ is emptied (data-dir.ts): a crash between the
 * link and the rename leaves a second name of a live object.
 */

const linkFile = promisify(link);

/** The most spare files kept at once; beyond, a replaced version is freed as before. */
export const MAX_SPARES = 256;
/**
 * The largest file kept as a spare, bytes (header included): a larger replaced version is freed
 * as before, so spare/ never holds more than 64 MiB, and the cost saved (an inode's) matters for
 * small objects only.
 */
export const MAX_SPARE_BYTES = 256 * 1024;

/** A replaced version's file kept by {@link SpareFiles.keep}, to settle once the replace is done. */
export interface Kept {
  /** Whether the object existed when its old version was kept (undefined: not known). */
  existed: boolean | undefined;
  /** The spare name of the old version, if it was kept. */
  spare: string | undefined;
  /** The object file replaced. */
  target: string;
}

/** See the module comment. One per data directory, owned by its `FileStore`. */
export class SpareFiles {
  readonly #newName: () => string;
  readonly #free: string[] = [];
  // The object files whose old version is being kept (one replace per file at a time); their
  // spares, not settled yet, count against the maximum too.
  readonly #replacing = new Set<string>();
  readonly #readers = new Map<string, number>();

  /** `newName`: a fresh name in spare/. */
  constructor(newName: () => string) {
    this.#newName = newName;
  }

  /** How many spares are ready for reuse (tests, metrics). */
  get size(): number {
    return this.#free.length;
  }

  /**
   * A reader of `key` starts, before it opens the object's file; call the function returned once
   * it has closed it (more calls do nothing).
   */
  reading(key: string): () => void {
    this.#readers.set(key, (this.#readers.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.#readers.get(key) ?? 1) - 1;
      if (left === 0) this.#readers.delete(key);
      else this.#readers.set(key, left);
    };
  }

  /**
   * A spare file open for reading and writing, with its size (the caller writes over its bytes
   * and cuts off the rest), or undefined if none is ready. A spare with a second name is never
   * handed out (defence in depth: keep() allows one replace per object at a time).
   */
  async take(): Promise<{ file: string; fd: number; size: number } | undefined> {
    for (let file = this.#free.pop(); file !== undefined; file = this.#free.pop()) {
      let fd: number;
      try {
        fd = await openFd(file, 'r+');
      } catch {
        await fs.rm(file, { force: true }).catch(() => {});
        continue;
      }
      // An open file's attributes are in memory: no disk read, so not worth a thread-pool trip.
      const stats = fstatSync(fd);
      if (stats.nlink === 1) return { file, fd, size: stats.size };
      await closeFd(fd).catch(() => {});
      await fs.rm(file, { force: true }).catch(() => {});
    }
    return undefined;
  }

  /**
   * Just before `target` (the file of `key`) is replaced: gives its current version a spare
   * name, unless enough spares are kept already. Its `existed` says whether there was one.
   */
  async keep(target: string): Promise<Kept> {
    const none: Kept = { existed: undefined, spare: undefined, target };
    if (this.#replacing.has(target) || this.#free.length + this.#replacing.size >= MAX_SPARES) return none;
    const spare = this.#newName();
    this.#replacing.add(target);
    try {
      await linkFile(target, spare);
      return { existed: true, spare, target };
    } catch (error) {
      this.#replacing.delete(target);
      return { ...none, existed: (error as NodeJS.ErrnoException).code === 'ENOENT' ? false : undefined };
    }
  }

  /**
   * Once the replace of `key` is over: `landed` (the new version is in place, and durable unless
   * a journal covers it) keeps the old version as a spare if no reader of the key is open and
   * it is small; otherwise its spare name is removed, and it is freed when its last reader
   * closes it.
   */
  async settle(key: string, kept: Kept, landed: boolean): Promise<void> {
    const { spare } = kept;
    if (spare === undefined) return;
    this.#replacing.delete(kept.target);
    if (landed && !this.#readers.has(key) && small(spare)) this.#free.push(spare);
    else await fs.rm(spare, { force: true }).catch(() => {});
  }
}

/**
 * True if the file is at most {@link MAX_SPARE_BYTES}. Synchronous: the link just made resolved
 * this name and its inode, so both are in the kernel's caches and no disk read is involved.
 */
function small(file: string): boolean {
  try {
    return statSync(file).size <= MAX_SPARE_BYTES;
  } catch {
    return false;
  }
}
