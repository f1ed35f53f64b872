import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './storage.js';

/**
 * The EICAR anti-virus test file: harmless, and every scanner's agreed "virus" for tests. Built
 * from two halves so that no scanner flags this source file.
 */
export const EICAR = Buffer.from(
  `${'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR'}${'-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'}`,
);

/** The one signature the test clamd knows: the EICAR file's MD5 and size (no download needed). */
const SIGNATURE = `44d88612fea8a8f36de82e1278abb02f:${EICAR.length}:Valet.Test.EICAR`;

/** Debian's clamd, started by a test. */
export interface Clamd {
  /** `127.0.0.1:PORT`, or the socket's path, as `validation.clamd` takes it. */
  address: string;
  port: number;
  pid: number;
  /** Kills it (SIGKILL, as a crash would). */
  kill(): Promise<void>;
  /** Starts it again on the same port and signatures. */
  restart(): Promise<void>;
  /** How many streams it has scanned so far (clean or not), from its log. */
  scans(): Promise<number>;
  stop(): Promise<void>;
}

// Stopped by PID when the test process ends, whatever happened.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const CLAMD = existsSync('/usr/sbin/clamd') ? '/usr/sbin/clamd' : 'clamd';

/**
 * Starts clamd (Debian's `clamav-daemon`) on a free port with a signature database of one line,
 * the EICAR file's, and stream limits of 3 GiB so that 2 GiB objects are scanned whole.
 */
export async function startClamd(
  t: TestContext | undefined,
  options: { streamMaxLength?: string; socket?: boolean } = {},
): Promise<Clamd> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-clamd-'));
  const db = path.join(dir, 'db');
  await mkdir(db);
  await writeFile(path.join(db, 'valet-test.hdb'), `${SIGNATURE}\n`);
  const port = await freePort();
  const socket = path.join(dir, 'clamd.sock');
  const target = options.socket ? { path: socket } : { port, host: '127.0.0.1' };
  const limit = options.streamMaxLength ?? '3000M';
  const conf = path.join(dir, 'clamd.conf');
  await writeFile(
    conf,
    [
      `DatabaseDirectory ${db}`,
      ...(options.socket ? [`LocalSocket ${socket}`] : [`TCPSocket ${port}`, 'TCPAddr 127.0.0.1']),
      'Foreground yes',
      'User root',
      `LogFile ${path.join(dir, 'clamd.log')}`,
      // Every scan is logged, clean ones too: tests count them.
      'LogClean yes',
      `StreamMaxLength ${limit}`,
      `MaxScanSize ${limit}`,
      `MaxFileSize ${limit}`,
      'MaxThreads 4',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn(CLAMD, ['-c', conf], { stdio: 'ignore' });
    running.add(started);
    started.on('exit', () => running.delete(started));
    child = started;
    await waitForPort(target, started);
  };
  const kill = async () => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGKILL');
    await exited;
  };
  await start();
  // Without a test context (a suite's `before`), the caller stops it.
  const stop = async () => {
    await kill();
    await rm(dir, { recursive: true, force: true });
  };
  t?.after(stop);
  return {
    address: options.socket ? socket : `127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid ?? 0;
    },
    kill,
    restart: start,
    stop,
    scans: async () =>
      (await readFile(path.join(dir, 'clamd.log'), 'utf8'))
        .split('\n')
        .filter((line) => /stream\(.*\): .*(OK|FOUND)$/.test(line)).length,
  };
}

async function waitForPort(target: net.NetConnectOpts, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`clamd exited with ${child.exitCode} before it listened`);
    if (await answersPing(target)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('clamd did not listen within 60 s');
}

/** True if clamd at `target` answers `zPING` with PONG. */
function answersPing(target: net.NetConnectOpts): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(target);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('zPING\0'));
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('close', () => resolve(text.startsWith('PONG')));
    socket.on('error', () => resolve(false));
    socket.setTimeout(2_000, () => socket.destroy());
  });
}
