import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
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
process.on('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});

/**
 * Starts `valet storage` on 127.0.0.1:0 and waits for its "listening on URL" line. Stopped by
 * PID when `t` ends (if given), and in any case when the test process exits.
 */
export async function startStorage(
  options: { jwksFile: string; dataDir?: string; args?: string[] },
  t?: TestContext,
): Promise<RunningStorage> {
  const dataDir = options.dataDir ?? path.join(await mkdtemp(path.join(tmpdir(), 'valet-data-')), 'data');
  const proc = spawn(
    process.execPath,
    [
      VALET_BIN,
      'storage',
      '--data',
      dataDir,
      '--jwks',
      options.jwksFile,
      '--port',
      '0',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  let stdout = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  live.add(proc);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      live.delete(proc);
      resolve(code);
    }),
  );
  t?.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`storage did not start:\n${stderr}`)), 20_000);
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`storage exited with ${code} before listening:\n${stderr}`));
    });
  });
  return {
    url,
    dataDir,
    proc,
    logs: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
  };
}

/** Files left in the data directory's tmp/ folder. */
export async function tmpFiles(dataDir: string): Promise<string[]> {
  return readdir(path.join(dataDir, 'tmp'));
}

/** Runs the `valet` CLI to completion. */
export function runValet(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [VALET_BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
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
