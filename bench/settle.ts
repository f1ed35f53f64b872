// Putting every system's timed phase on the same footing on a machine whose disk is shared with
// the previous phase's aftermath: what one system wrote (and deleted: this root is mounted with
// `discard`) must not still be going to the disk while the next one is timed. Measured here: a
// 1 GiB `dd … conv=fsync` runs at 0.3-1.5 GB/s depending only on how long after the last
// delete it starts, so each timed phase starts after the same settle.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const MiB = 2 ** 20;

/** Dirty + Writeback pages of the whole machine, in bytes (Linux; 0 elsewhere). */
function pendingWrites(): number {
  let text: string;
  try {
    text = readFileSync('/proc/meminfo', 'utf8');
  } catch {
    return 0;
  }
  let kib = 0;
  for (const m of text.matchAll(/^(Dirty|Writeback):\s+(\d+) kB$/gm)) kib += Number(m[2]);
  return kib * 1024;
}

/**
 * Flushes every file system, waits (up to 60 s) until less than 4 MiB is dirty or being
 * written back, then lets the disk rest `restMs` more (deletes' discards, the host's own cache).
 */
export async function settle(restMs = 2000): Promise<void> {
  execFileSync('sync');
  for (let waited = 0; waited < 60_000 && pendingWrites() > 4 * MiB; waited += 100) await sleep(100);
  await sleep(restMs);
}

/**
 * The disk's own rate, for the record: 1 GiB written with `dd … conv=fsync` into `dir` (then
 * deleted; the next timed phase settles first, as every one does), in MiB/s. Every system's large
 * PUT is bounded by this.
 */
export async function diskRate(dir: string): Promise<number> {
  await settle();
  const file = path.join(dir, 'dd-probe.bin');
  const started = process.hrtime.bigint();
  execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=1024', 'conv=fsync'], {
    stdio: 'ignore',
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(file);
  return 1024 / seconds;
}
