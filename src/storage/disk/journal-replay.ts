import * as fs from 'node:fs/promises';
import path from 'node:path';
import type { JournalRecord } from './journal.js';
import { closeFd, decodeHeader, HEADER_SIZE, openFd, readFd, writeAll } from './object-file.js';

/** What a replay needs from the object store. */
export interface ReplayTarget {
  /** The file that holds an object. */
  pathFor(key: string): string;
  /** A fresh temporary file name in the store's tmp directory. */
  tmpName(): string;
}

/**
 * Brings the object files in line with the journal records a crash left (see `journal.ts`), key
 * by key, from the last `put` or `delete` of the key:
 * - a later `supersede` whose version is the one on disk wins (that version landed the fsync way);
 * - else a `put` rewrites the object file from the journal (the file renamed before the crash may
 *   be torn: it was never fsynced), and a `delete` removes it.
 * A `void` cancels the `put` of the same key id (its rename failed). The caller flushes the file
 * system afterwards. Returns the number of objects written or removed.
 */
export async function replayJournal(records: JournalRecord[], target: ReplayTarget): Promise<number> {
  const byKey = new Map<string, JournalRecord[]>();
  for (const record of records) {
    const list = byKey.get(record.key) ?? [];
    byKey.set(record.key, list);
    if (record.kind !== 'void') {
      list.push(record);
      continue;
    }
    const i = list.findLastIndex((r) => r.kind === 'put' && r.keyId === record.keyId);
    if (i !== -1) list.splice(i, 1);
  }
  let changed = 0;
  for (const [key, list] of byKey) {
    const i = list.findLastIndex((r) => r.kind === 'put' || r.kind === 'delete');
    const effective = list[i];
    if (effective === undefined) continue;
    const landed = list.slice(i + 1).flatMap((r) => (r.kind === 'supersede' ? [r.keyId] : []));
    if (landed.length > 0) {
      const onDisk = await keyIdOnDisk(target.pathFor(key));
      if (onDisk !== undefined && landed.includes(onDisk)) continue;
    }
    if (effective.kind === 'put') await writeObject(target, key, effective.content);
    else await fs.rm(target.pathFor(key), { force: true });
    changed++;
  }
  return changed;
}

async function writeObject(target: ReplayTarget, key: string, content: Buffer[]): Promise<void> {
  const tmp = target.tmpName();
  const fd = await openFd(tmp, 'wx', 0o600);
  try {
    await writeAll(fd, content, 0);
  } finally {
    await closeFd(fd);
  }
  await fs.mkdir(path.dirname(target.pathFor(key)), { recursive: true, mode: 0o700 });
  await fs.rename(tmp, target.pathFor(key));
}

/** The key id in an object file's header, or undefined if there is no readable header. */
async function keyIdOnDisk(file: string): Promise<string | undefined> {
  let fd: number;
  try {
    fd = await openFd(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const header = Buffer.alloc(HEADER_SIZE);
    const { bytesRead } = await readFd(fd, header, 0, HEADER_SIZE, 0);
    return decodeHeader(header.subarray(0, bytesRead)).keyId;
  } catch {
    return undefined;
  } finally {
    await closeFd(fd);
  }
}
