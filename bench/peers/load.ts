// The workloads of `npm run bench:peers` against any store: large objects with curl (so the
// client's CPU is a C program's, not the server's competitor in this process), small objects with
// autocannon, and the store's CPU time and peak memory read from /proc.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { settle } from '../settle.js';
import type { Ready, StorageSystem } from './systems.js';

const run = promisify(execFile);
const TICK = 100; // USER_HZ: /proc reports CPU time in 1/100 s

/** CPU seconds (user + system) used so far by these processes. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return ticks / TICK;
}

/** Peak resident memory (VmHWM) of these processes, summed, in bytes. */
export function peakRss(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited
    }
  }
  return kb * 1024;
}

function curlHeaders(ready: Ready): string[] {
  return Object.entries(ready.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
}

/** One result: seconds of wall time and of the store's CPU for the whole run. */
export interface Measured {
  seconds: number;
  cpu: number;
}

/** Runs curl on a ready request, timed, with the store's CPU; returns what `-w FORMAT` printed. */
async function timedCurl(
  system: Pick<StorageSystem, 'name' | 'pids'>,
  ready: Ready,
  format: string,
  extra: string[],
): Promise<Measured & { written: string }> {
  await settle();
  const cpu0 = cpuSeconds(system.pids());
  const t0 = performance.now();
  const { stdout } = await run('curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-w',
    format,
    ...extra,
    ...curlHeaders(ready),
    ready.url,
  ]);
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, cpu: cpuSeconds(system.pids()) - cpu0, written: stdout };
}

/** PUT `file` (`size` bytes) as `object` with curl; throws unless the store answers 2xx. */
export async function largePut(
  system: Pick<StorageSystem, 'name' | 'pids' | 'put'>,
  object: string,
  file: string,
  size: number,
): Promise<Measured> {
  const { written, ...measured } = await timedCurl(system, await system.put(object, size), '%{http_code}', [
    '-T',
    file,
  ]);
  if (!written.startsWith('2')) throw new Error(`${system.name}: large PUT answered ${written}`);
  return measured;
}

/** GET `object` with curl into /dev/null; checks the length. */
export async function largeGet(system: StorageSystem, object: string, size: number): Promise<Measured> {
  const { written, ...measured } = await timedCurl(
    system,
    await system.get(object),
    '%{http_code} %{size_download}',
    [],
  );
  if (written !== `200 ${size}`) throw new Error(`${system.name}: large GET answered ${written}`);
  return measured;
}

/** Small objects: requests per second, p99 latency and the store's CPU per request. */
export interface SmallResult {
  rps: number;
  p99: number;
  cpuPerRequest: number;
}

/**
 * `count` PUTs or GETs of `size`-byte objects over `objects` names at `connections`, each request
 * with its own freshly made URL (key, SAS or presigned), all made before the clock starts.
 */
export async function small(
  system: StorageSystem,
  op: 'put' | 'get',
  options: { count: number; objects: number; size: number; connections: number },
): Promise<SmallResult> {
  const ready = await Promise.all(
    Array.from({ length: options.count }, (_, i) => {
      const object = `small/${i % options.objects}`;
      return op === 'put' ? system.put(object, options.size) : system.get(object);
    }),
  );
  const body = randomBytes(options.size);
  let next = 0;
  let started = 0;
  let last = 0;
  await settle();
  const cpu0 = cpuSeconds(system.pids());
  const first = ready[0] as Ready;
  const origin = new URL(first.url).origin;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: origin,
        connections: options.connections,
        amount: options.count,
        requests: [
          {
            method: op === 'put' ? 'PUT' : 'GET',
            setupRequest: (req) => {
              started ||= performance.now();
              const r = ready[next++] ?? first;
              const target = new URL(r.url);
              return {
                ...req,
                path: `${target.pathname}${target.search}`,
                headers: { ...req.headers, ...r.headers },
                ...(op === 'put' && { body }),
              };
            },
          },
        ],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    instance.on('response', () => {
      last = performance.now();
    });
  });
  const cpu = cpuSeconds(system.pids()) - cpu0;
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${system.name} ${op}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return {
    rps: result.requests.total / ((last - started) / 1000),
    p99: result.latency.p99,
    cpuPerRequest: cpu / result.requests.total,
  };
}
