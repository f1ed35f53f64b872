import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const VALET_BIN = path.join(ROOT, 'bin', 'valet.js');

/** A `valet storage` process started by a test. */
export interface RunningStorage {
  url: string;
  dataDir: string;
  proc: ChildProcess;
  /** Everything the process wrote to stderr (its JSON log) so far. */
  logs(): string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

// Every process a test starts is killed by PID when the test process ends, whatever happened.
const live = new Set<ChildProcess>();
const groups = new WeakMap<ChildProcess, (signal: NodeJS.Signals) => void>();
process.on('exit', () => {
  for (const proc of live) (groups.get(proc) ?? ((s) => proc.kill(s)))('SIGKILL');
});

/** A `valet` process started by a test. */
export interface RunningProcess {
  /** The first capture group of the ready pattern in stdout (a URL). */
  url: string;
  proc: ChildProcess;
  /** Everything the process wrote to stdout so far. */
  output(): string;
  /** Everything the process wrote to stderr (its JSON log) so far. */
  logs(): string;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `valet ARGS…` and waits until stdout matches `ready`. Stopped by PID when `t` ends (if
 * given), and in any case when the test process exits.
 */
export async function startValet(
  args: string[],
  ready: RegExp,
  t?: TestContext,
  env: Record<string, string> = {},
  prefix: string[] = [],
): Promise<RunningProcess> {
  // A prefix runs node under another command (`prlimit --nofile=…`, `strace -f`), in a process
  // group of its own: signals go to the group, so they reach node whatever the command does with
  // them (strace blocks them while it traces).
  const [command, ...rest] = [...prefix, process.execPath, VALET_BIN, ...args] as [string, ...string[]];
  const proc = spawn(command, rest, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    detached: prefix.length > 0,
  });
  const signal = (name: NodeJS.Signals) => {
    if (prefix.length === 0 || proc.pid === undefined) proc.kill(name);
    else
      try {
        process.kill(-proc.pid, name);
      } catch {}
  };
  groups.set(proc, signal);
  let stderr = '';
  let stdout = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  live.add(proc);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      live.delete(proc);
      // The group's other processes (node under strace) end with it.
      if (prefix.length > 0) signal('SIGKILL');
      resolve(code);
    }),
  );
  t?.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) signal('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`valet ${args[0]} did not start:\n${stderr}`)), 20_000);
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const match = ready.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] ?? match[0]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`valet ${args[0]} exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  return {
    url,
    proc,
    output: () => stdout,
    logs: () => stderr,
    async stop(name = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      signal(name);
      return exited;
    },
  };
}

/**
 * Starts `valet storage` on 127.0.0.1 (port 0 unless given) and waits for its "listening on URL"
 * line. Without `jwksFile`, storage trusts the keys its `--issuer` publishes.
 */
export async function startStorage(
  options: { jwksFile?: string; dataDir?: string; args?: string[]; prefix?: string[]; port?: number },
  t?: TestContext,
): Promise<RunningStorage> {
  const dataDir = options.dataDir ?? path.join(await mkdtemp(path.join(tmpdir(), 'valet-data-')), 'data');
  const running = await startValet(
    [
      'storage',
      '--data',
      dataDir,
      ...(options.jwksFile !== undefined ? ['--jwks', options.jwksFile] : []),
      '--port',
      String(options.port ?? 0),
      ...(options.args ?? []),
    ],
    /listening on (http:\/\/\S+)/,
    t,
    {},
    options.prefix,
  );
  return { ...running, dataDir };
}

/** Files left in the data directory's tmp/ folder. */
export async function tmpFiles(dataDir: string): Promise<string[]> {
  return readdir(path.join(dataDir, 'tmp'));
}

/** Runs the `valet` CLI to completion. */
export function runValet(
  args: string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [VALET_BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
      ...(options.cwd && { cwd: options.cwd }),
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    proc.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    proc.stdin.end(options.input ?? '');
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A free TCP port on 127.0.0.1, for servers that cannot bind port 0 themselves (Ceph). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
