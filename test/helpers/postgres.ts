import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './storage.js';

/** A running PostgreSQL server of the test's own. */
export interface Postgres {
  /** `postgres://valet@127.0.0.1:PORT/postgres` (trust authentication, loopback only). */
  url: string;
  pid: number;
  /** A URL for a fresh, empty database on this server. */
  freshDatabase(): Promise<string>;
  /** Kills the server (SIGKILL), as a crash would; `restart()` brings it back. */
  crash(): Promise<void>;
  /** Starts the server again on the same data and port (stopping it first if it runs). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

// Servers are stopped by PID when the test process ends, whatever happened.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Debian's PostgreSQL binaries (the newest installed major version). */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] === undefined) {
    throw new Error('PostgreSQL is not installed: apt-get install postgresql (npm run test:deps does it)');
  }
  return path.join(root, versions[0], 'bin');
}

/**
 * Runs `initdb` into a temporary folder and starts `postgres` on a free loopback port, as the
 * `postgres` user when the tests run as root (the server refuses to run as root). Fails loudly if
 * it cannot: PostgreSQL tests are never skipped. Stop it with `stop()` (by PID).
 */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBin();
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-pg-'));
  const data = path.join(dir, 'data');
  let ids: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
    ids = { uid, gid };
  }
  execFileSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'valet', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { ...ids, stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
  );
  const port = await freePort();
  const url = `postgres://valet@127.0.0.1:${port}/postgres`;
  /** Starts the server on `data` and `port`, and waits until it takes connections. */
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn(
      path.join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=200',
      ],
      { ...ids, stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
    );
    running.add(child);
    let output = '';
    const collect = (d: Buffer) => {
      output += d.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`postgres exited with ${code}: ${output}`))),
    );
    exited.catch(() => {});
    const deadline = Date.now() + 30_000;
    for (;;) {
      const client = new pg.Client({ connectionString: url });
      try {
        await Promise.race([client.connect(), exited]);
        await client.end();
        return child;
      } catch (error) {
        await client.end().catch(() => {});
        if (child.exitCode !== null || Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${output}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  /** Stops the server by PID (fast shutdown), SIGKILL after 10 s. */
  const halt = async (child: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    running.delete(child);
  };
  let child = await launch();
  let databases = 0;
  return {
    url,
    get pid() {
      return child.pid as number;
    },
    async freshDatabase() {
      const name = `valet_test_${process.pid}_${++databases}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return `postgres://valet@127.0.0.1:${port}/${name}`;
    },
    async crash() {
      await halt(child, 'SIGKILL');
    },
    async restart() {
      await halt(child);
      child = await launch();
    },
    async stop() {
      await halt(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
