// The resumable workloads of `npm run bench:peers`: one tus upload of a file, in one PATCH or in
// PATCHes of a fixed size, by the same small client for Valet storage and for plain @tus/server.
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { cpuSeconds, type Measured, settle } from './load.js';

/** Where a tus upload is created, and the headers every request carries (Valet: its key). */
export interface TusTarget {
  name: string;
  pids(): number[];
  /** The creation URL and the headers for one new upload of `size` bytes. */
  creation(object: string, size: number): Promise<{ url: string; headers: Record<string, string> }>;
}

function send(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  body?: { file: string; start: number; end: number },
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    if (body) {
      createReadStream(body.file, { start: body.start, end: body.end - 1, highWaterMark: 1024 * 1024 })
        .on('error', reject)
        .pipe(req);
    } else req.end();
  });
}

/** Uploads `file` (`size` bytes) with tus in PATCHes of `chunk` bytes; wall and server CPU time. */
export async function tusUpload(
  target: TusTarget,
  object: string,
  file: string,
  size: number,
  chunk: number,
): Promise<Measured> {
  const { url, headers } = await target.creation(object, size);
  const tus = { ...headers, 'tus-resumable': '1.0.0' };
  settle();
  const cpu0 = cpuSeconds(target.pids());
  const t0 = performance.now();
  const created = await send(url, 'POST', { ...tus, 'upload-length': size, 'content-length': 0 });
  if (created.status !== 201) throw new Error(`${target.name}: tus creation answered ${created.status}`);
  const location = new URL(String(created.headers.location), url).toString();
  for (let offset = 0; offset < size; offset += chunk) {
    const end = Math.min(size, offset + chunk);
    const res = await send(
      location,
      'PATCH',
      {
        ...tus,
        'upload-offset': offset,
        'content-type': 'application/offset+octet-stream',
        'content-length': end - offset,
      },
      { file, start: offset, end },
    );
    if (res.status !== 204 && res.status !== 200)
      throw new Error(`${target.name}: PATCH at ${offset} answered ${res.status}`);
  }
  return { seconds: (performance.now() - t0) / 1000, cpu: cpuSeconds(target.pids()) - cpu0 };
}
