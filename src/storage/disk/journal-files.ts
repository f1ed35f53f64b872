import { spawn } from 'node:child_process';
import { ftruncate } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { closeFd, openFd } from './object-file.js';

/**
 * The journal's files (see journal.ts): one generation each, `DIR/journal/<n>.log`, appended to
 * until a checkpoint retires it; and how a checkpoint flushes the file system under them.
 */

const truncateFd = promisify(ftruncate);

/** One journal file. */
export interface Generation {
  n: number;
  file: string;
  fd: number;
  size: number;
  /** Puts appended to this file whose renames have not finished. */
  applying: number;
  applied?: () => void;
}

/** The file of generation `n`. */
export function journalFile(dir: string, n: number): string {
  return path.join(dir, `${String(n).padStart(12, '0')}.log`);
}

/** A new, empty journal file, its directory entry durable. */
export async function newGeneration(dir: string, n: number): Promise<Generation> {
  const file = journalFile(dir, n);
  const fd = await openFd(file, 'w', 0o600);
  try {
    await truncateFd(fd, 0);
    await syncDir(dir);
  } catch (error) {
    await closeFd(fd).catch(() => {});
    throw error;
  }
  return { n, file, fd, size: 0, applying: 0 };
}

/** Makes a directory's entries durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes the file system that holds `dir` (syncfs(2) through `sync -f`; plain `sync`, every
 * file system, where `-f` is not known). Node has no binding for either.
 */
export async function syncFileSystem(dir: string): Promise<void> {
  const run = (args: string[]) =>
    new Promise<boolean>((resolve) => {
      const child = spawn('sync', args, { stdio: 'ignore' });
      child.on('error', () => resolve(false));
      child.on('exit', (code) => resolve(code === 0));
    });
  if (await run(['-f', dir])) return;
  if (await run([])) return;
  throw new Error('cannot flush the file system: the sync command failed');
}
