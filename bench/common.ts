// Helpers shared by the benchmarks.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '../src/client/client.js';
import { generateSigningJwk, publicJwk } from '../src/token/keys.js';
import { freePort } from '../test/helpers/storage.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const children: Array<{ proc: ChildProcess; signal: NodeJS.Signals }> = [];
process.on('exit', () => {
  for (const c of children) c.proc.kill(c.signal);
});
// A benchmark stopped with Ctrl-C or kill still stops what it started: Node runs no 'exit'
// handlers on a signal it does not handle (nginx, Ceph and the servers outlived such a stop).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
}

/**
 * Stops `proc` when the benchmark exits, however it ends. `signal`: SIGTERM for a server that
 * stops its own workers on it (nginx), else SIGKILL.
 */
export function stopAtExit(proc: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  children.push({ proc, signal });
}

/** Starts `node ARGS…` from the repository root and waits for its "listening on URL" line. */
export function startNode(
  args: string[],
  logFile: string,
  env: Record<string, string> = {},
): Promise<{ proc: ChildProcess; url: string }> {
  // BENCH_CPU_PROF=DIR: every server a benchmark starts writes a CPU profile there when stopped.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF]
    : [];
  // BENCH_NODE_FLAGS="--trace-gc ...": more Node flags for every server (experiments).
  profile.push(...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []));
  // The server's log (stderr) goes straight to its file, as a deployment's would: not through a
  // pipe into this process, where copying it would take CPU from the load generator.
  const log = openSync(logFile, 'a');
  // BENCH_NODE=PATH: the servers run on that Node binary (bench:peers --node N sets it).
  const proc = spawn(process.env.BENCH_NODE ?? process.execPath, [...profile, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', log],
    env: { ...process.env, ...env },
  });
  closeSync(log);
  stopAtExit(proc);
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

export { freePort };

/** A signing key, its JWK set and the storage secret, as files in `work`. */
export interface BenchKeys {
  keyFile: string;
  jwksFile: string;
  secretFile: string;
}

/** Writes a fresh signing key, its JWK set and a storage secret into `work`. */
export async function benchKeys(work: string): Promise<BenchKeys> {
  const jwk = await generateSigningJwk();
  const keys = {
    keyFile: path.join(work, 'signing.jwk'),
    jwksFile: path.join(work, 'jwks.json'),
    secretFile: path.join(work, 'storage.secret'),
  };
  await writeFile(keys.keyFile, JSON.stringify(jwk));
  await writeFile(keys.jwksFile, JSON.stringify({ keys: [publicJwk(jwk)] }));
  await writeFile(keys.secretFile, randomBytes(32).toString('base64url'));
  return keys;
}

/**
 * Starts `valet storage` (data in `work/data-TAG`, log in `work/storage-TAG.log`) trusting the
 * bench keys and reporting to the app that will listen on `appPort`.
 */
export function startStorageFor(
  work: string,
  keys: BenchKeys,
  appPort: number,
  tag: string,
  logLevel = 'warn',
): Promise<{ proc: ChildProcess; url: string }> {
  return startNode(
    [
      'bin/valet.js',
      'storage',
      '--data',
      path.join(work, `data-${tag}`),
      '--jwks',
      keys.jwksFile,
      '--port',
      '0',
      '--issuer',
      `http://127.0.0.1:${appPort}`,
      '--secret-file',
      keys.secretFile,
      '--log-level',
      logLevel,
    ],
    path.join(work, `storage-${tag}.log`),
  );
}

/**
 * Starts `valet storage` and the benchmark app (bench/issuer-app.ts, its issuer wired to that
 * storage), then waits until storage has the revocation list (it refuses every key until then)
 * and warms the app up with one small upload, before anything is measured.
 */
export async function startStorageAndApp(
  work: string,
  keys: BenchKeys,
  options: {
    mode: 'valet' | 'relay';
    tag: string;
    storageLogLevel?: string;
    jwksUri?: string;
    bearer?: string;
  },
): Promise<{ storage: { proc: ChildProcess; url: string }; app: { proc: ChildProcess; url: string } }> {
  const { mode, tag } = options;
  const appPort = await freePort();
  const storage = await startStorageFor(work, keys, appPort, tag, options.storageLogLevel);
  const app = await startNode(
    [
      '--import',
      'tsx',
      'bench/issuer-app.ts',
      '--mode',
      mode,
      '--storage',
      storage.url,
      '--key',
      keys.keyFile,
      '--secret',
      keys.secretFile,
      '--db',
      path.join(work, `issuer-${tag}.sqlite`),
      ...(options.jwksUri !== undefined ? ['--jwks-uri', options.jwksUri] : []),
    ],
    path.join(work, `app-${tag}.log`),
    { APP_PORT: String(appPort) },
  );
  const client = createClient({
    issuer: app.url,
    getToken: () => options.bearer ?? 'user:alice',
    retryDelay: 100,
    retries: 20,
  });
  await client.upload(new Blob(['warm-up']), { name: 'warm-up.txt' });
  return { storage, app };
}
