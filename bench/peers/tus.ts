// The resumable workloads of `npm run bench:peers`: one tus upload of a file, in one PATCH or in
// PATCHes of a fixed size, sent by curl for Valet storage and for plain @tus/server alike, so that
// neither server is bounded by a client running in Node (issue 29: a Node client capped
// @tus/server at about half its speed with curl).
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { settle } from '../settle.js';
import { cpuSeconds, type Measured } from './load.js';

const run = promisify(execFile);

/** Where a tus upload is created, and the headers every request carries (Valet: its key). */
export interface TusTarget {
  name: string;
  pids(): number[];
  /** The creation URL and the headers for one new upload of `size` bytes. */
  creation(object: string, size: number): Promise<{ url: string; headers: Record<string, string> }>;
}

/**
 * The pieces of `file` for PATCHes of `chunk` bytes, written beside it once (untimed) so curl can
 * send each with -T: `file` itself when one PATCH carries everything.
 */
export async function chunkFiles(file: string, size: number, chunk: number): Promise<string[]> {
  if (chunk >= size) return [file];
  const pieces: string[] = [];
  for (let offset = 0, i = 0; offset < size; offset += chunk, i++) {
    const piece = `${file}.${chunk}.${i}`;
    if (!existsSync(piece)) {
      const end = Math.min(size, offset + chunk) - 1;
      await pipeline(createReadStream(file, { start: offset, end }), createWriteStream(piece));
    }
    pieces.push(piece);
  }
  return pieces;
}

const headerArgs = (headers: Record<string, string | number>) =>
  Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);

/** Runs curl; returns the status line's code and the Location header of the answer. */
async function curl(url: string, method: string, headers: Record<string, string | number>, body?: string) {
  const { stdout } = await run(
    'curl',
    [
      '-sS',
      '-o',
      '/dev/null',
      '-X',
      method,
      '-w',
      '%{http_code} %header{location}',
      ...headerArgs({ ...headers, expect: '' }),
      ...(body ? ['-T', body] : []),
      url,
    ],
    { maxBuffer: 1 << 20 },
  );
  const [status, location] = stdout.trim().split(' ');
  return { status: Number(status), location: location ?? '' };
}

/** Uploads `pieces` (the file, `size` bytes, in order) with tus, one PATCH each; wall and server CPU time. */
export async function tusUpload(
  target: TusTarget,
  object: string,
  pieces: { files: string[]; chunk: number },
  size: number,
): Promise<Measured> {
  const { url, headers } = await target.creation(object, size);
  const tus = { ...headers, 'tus-resumable': '1.0.0' };
  await settle();
  const cpu0 = cpuSeconds(target.pids());
  const t0 = performance.now();
  const created = await curl(url, 'POST', { ...tus, 'upload-length': size, 'content-length': 0 });
  if (created.status !== 201) throw new Error(`${target.name}: tus creation answered ${created.status}`);
  const location = new URL(created.location, url).toString();
  let offset = 0;
  for (const file of pieces.files) {
    const res = await curl(
      location,
      'PATCH',
      { ...tus, 'upload-offset': offset, 'content-type': 'application/offset+octet-stream' },
      file,
    );
    if (res.status !== 204 && res.status !== 200)
      throw new Error(`${target.name}: PATCH at ${offset} answered ${res.status}`);
    offset = Math.min(size, offset + pieces.chunk);
  }
  return { seconds: (performance.now() - t0) / 1000, cpu: cpuSeconds(target.pids()) - cpu0 };
}
