import { open, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `text` to `file` so that a crash or a power loss leaves the old file or the new one,
 * whole: a temporary file beside it, fsynced, renamed into place, then the directory fsynced.
 */
export async function writeDurably(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

/** fsync(2) of a directory: its entries (a rename, a new file) reach the disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
