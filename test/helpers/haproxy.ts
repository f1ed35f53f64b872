import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { freePort } from './storage.js';

export interface ServerState {
  status: string;
  retries: number;
  redispatches: number;
}

/** Debian's HAProxy in front of some servers, started by a test. */
export interface Haproxy {
  /** Where clients reach the servers: `http://127.0.0.1:PORT`. */
  url: string;
  pid: number;
  /**
   * By server name: its state as HAProxy's health checks see it (`UP`, `DOWN`, …), and how many
   * requests HAProxy sent again (`retries`) or sent to another server (`redispatches`).
   */
  states(): Promise<Record<string, ServerState>>;
  stop(): Promise<void>;
}

// Stopped by PID when the test process ends, whatever happened.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The configuration a user would write for replicas of the issuer: round robin, each server
 * health-checked at `/readyz` every 300 ms (out after 2 failures, back after 2 passes), and a
 * request that cannot reach a server, or gets no answer, sent to another one.
 */
export function haproxyConfig(port: number, statsPort: number, servers: string[]): string {
  return `global
  maxconn 2000

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout

frontend valet
  bind 127.0.0.1:${port}
  default_backend issuers

backend issuers
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
  default-server check inter 300ms fastinter 300ms downinter 300ms fall 2 rise 2
${servers.map((server, i) => `  server r${i} ${server}`).join('\n')}

listen stats
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
`;
}

/** Starts `haproxy -db` in front of `servers` (`host:port` each, named r0, r1, …). */
export async function startHaproxy(t: TestContext, servers: string[]): Promise<Haproxy> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-haproxy-'));
  const [port, statsPort] = [await freePort(), await freePort()];
  const file = path.join(dir, 'haproxy.cfg');
  await writeFile(file, haproxyConfig(port, statsPort, servers));
  const child = spawn('haproxy', ['-f', file, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  t.after(stop);
  const url = `http://127.0.0.1:${port}`;
  // The stats page as CSV: pxname, svname, … wretr (15), wredis (16), status (17), …
  const states = async (): Promise<Record<string, ServerState>> => {
    const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
    const out: Record<string, ServerState> = {};
    for (const line of csv.split('\n')) {
      const cells = line.split(',');
      const [proxy, server] = cells;
      if (proxy !== 'issuers' || !server || server === 'BACKEND') continue;
      out[server] = {
        status: cells[17] ?? '',
        retries: Number(cells[15] || 0),
        redispatches: Number(cells[16] || 0),
      };
    }
    return out;
  };
  for (let waited = 0; ; waited += 100) {
    if (child.exitCode !== null) throw new Error(`haproxy exited before it was ready:\n${stderr}`);
    try {
      await states();
      break;
    } catch {
      if (waited > 10_000) throw new Error(`haproxy did not start:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { url, pid: child.pid as number, states, stop };
}
