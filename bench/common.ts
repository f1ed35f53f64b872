// Helpers shared by the benchmarks.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Starts `node ARGS…` from the repository root and waits for its "listening on URL" line. */
export function startNode(
  args: string[],
  logFile: string,
  env: Record<string, string> = {},
): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.push(proc);
  proc.stderr?.pipe(createWriteStream(logFile));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve({ proc, url: m[1] });
    });
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}; see ${logFile}`)));
  });
}

/** Stops a child by PID and waits for it to exit. */
export function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in docs/benchmarks.md. */
export async function writeSection(name: string, text: string): Promise<string> {
  const file = path.join(ROOT, 'docs', 'benchmarks.md');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const doc = await readFile(file, 'utf8');
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i === -1 || j === -1) throw new Error(`${file} lacks the ${start} … ${end} markers`);
  await writeFile(file, `${doc.slice(0, i + start.length)}\n${text}\n${doc.slice(j)}`);
  return file;
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

export { freePort } from '../test/helpers/storage.js';
