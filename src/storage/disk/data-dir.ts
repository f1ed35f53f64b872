import * as fs from 'node:fs/promises';
import path from 'node:path';
import { ValetError } from '../../token/errors.js';
import { fsyncDir, writeDurably } from './durable-file.js';

/**
 * A data directory's own files, before any object is served: its format marker, written
 * durably, and the folders the store needs, made durable too (see store.ts for the layout).
 */

const FORMAT = { format: 'valet-storage', version: 1 } as const;
const FORMAT_FILE = 'format.json';

/**
 * What a data directory may hold besides its format marker, when a first start was cut before
 * the marker reached the disk (an empty `format.json`): only Valet's own entries.
 */
const OWN_ENTRIES = new Set([
  FORMAT_FILE,
  `${FORMAT_FILE}.tmp`,
  'storage.lock',
  ...['ledger', 'held', 'outbox'].flatMap((db) =>
    ['', '-wal', '-shm', '-journal'].map((s) => `${db}.sqlite${s}`),
  ),
  'objects',
  'tmp',
  'spare',
  'journal',
  'uploads',
  'revocations.json',
  'revocations.json.tmp',
  'trusted-keys.json',
  'trusted-keys.json.tmp',
]);

/**
 * Checks that `dir` is a Valet data directory, or makes it one: a new (or empty) directory gets
 * its `format.json`, written so that a power loss right after cannot leave it empty (a
 * temporary file, fsynced, renamed into place, then the directory fsynced; the directory's own
 * entry in its parent too). An empty `format.json` beside nothing but Valet's own entries is
 * what such a power loss left with an earlier version: it is written again.
 */
export async function checkFormat(dir: string): Promise<void> {
  const file = path.join(dir, FORMAT_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ValetError('invalid_options', `cannot read ${file}`, { cause: error });
    }
    const entries = (await fs.readdir(dir)).filter((e) => !e.startsWith('.') && e !== `${FORMAT_FILE}.tmp`);
    if (entries.length > 0) {
      throw new ValetError('invalid_options', `${dir} is not empty and is not a Valet data directory`);
    }
    await writeFormat(dir);
    return;
  }
  if (text.trim() === '') {
    const foreign = (await fs.readdir(dir)).filter((e) => !e.startsWith('.') && !OWN_ENTRIES.has(e));
    if (foreign.length > 0) {
      throw new ValetError(
        'invalid_options',
        `${file} is empty and ${dir} holds files Valet did not make (${foreign.slice(0, 3).join(', ')}): not a Valet data directory`,
      );
    }
    await writeFormat(dir);
    return;
  }
  let found: { format?: unknown; version?: unknown } | undefined;
  try {
    found = JSON.parse(text);
  } catch (error) {
    throw new ValetError('invalid_options', `${file} is not JSON: is ${dir} a Valet data directory?`, {
      cause: error,
    });
  }
  if (found?.format !== FORMAT.format || found?.version !== FORMAT.version) {
    throw new ValetError(
      'invalid_options',
      `${dir} holds data of an unknown format: ${JSON.stringify(found)}`,
    );
  }
}

/** Writes `format.json` durably (see {@link checkFormat}). */
async function writeFormat(dir: string): Promise<void> {
  await writeDurably(path.join(dir, FORMAT_FILE), `${JSON.stringify(FORMAT)}\n`);
  // A directory made just now is an entry of its parent: that entry must reach the disk too.
  await fsyncDir(path.dirname(dir));
}

/**
 * Makes the folders the store needs (tmp/, spare/, objects/ and its 256 shards), removes what an
 * earlier run left in tmp/ (each file named to `onSweep`) and in spare/ (files of replaced
 * versions kept for reuse, not leftovers of an upload), and fsyncs what it created.
 */
export async function prepareFolders(
  dir: string,
  folders: { tmp: string; spare: string; objects: string },
  onSweep?: (file: string) => void,
): Promise<void> {
  await fs.mkdir(folders.tmp, { recursive: true, mode: 0o700 });
  await fs.rm(folders.spare, { recursive: true, force: true });
  await fs.mkdir(folders.spare, { mode: 0o700 });
  await fs.mkdir(folders.objects, { recursive: true, mode: 0o700 });
  for (const file of await fs.readdir(folders.tmp)) {
    await fs.rm(path.join(folders.tmp, file), { force: true, recursive: true });
    onSweep?.(file);
  }
  for (let i = 0; i < 256; i++) {
    await fs.mkdir(path.join(folders.objects, i.toString(16).padStart(2, '0')), {
      recursive: true,
      mode: 0o700,
    });
  }
  await fsyncDir(folders.objects);
  await fsyncDir(dir);
}
