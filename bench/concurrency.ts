// Memory under many connections: N concurrent uploads of M MiB each to Valet storage, and to the
// plain node:http baseline (bench/baseline-server.ts) in the same run; then 2,000 idle
// connections to each; then 1,000 slow readers, each asking for one of those objects and reading
// none of it (issue 24: a slow reader held 559 KiB). Reports each server's peak RSS (VmHWM), its
// RSS with the idle connections open, and what its RSS grew by with the slow readers.
// Target (issue 14): 1,000 concurrent uploads under 256 MiB.
//
//   npm run bench:concurrency               full run (1,000 × 10 MiB, 2,000 idle, 1,000 slow); rewrites its section
//   npm run bench:concurrency -- --quick    smoke run (100 × 1 MiB, 200 idle, 100 slow), prints only
//
// Options: --uploads N, --mib N, --idle N, --slow N, --no-write; --valet-only (for profiling:
// skips the baseline, prints only)
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { importSigningKey } from '../src/token/keys.js';
import { mintValetKey } from '../src/token/mint.js';
import { benchKeys, log, ROOT, startNode, stop, writeSection } from './common.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    uploads: { type: 'string' },
    mib: { type: 'string' },
    idle: { type: 'string' },
    slow: { type: 'string' },
    'no-write': { type: 'boolean' },
    'valet-only': { type: 'boolean' },
  },
});
const quick = values.quick === true;
const UPLOADS = Number(values.uploads ?? (quick ? 100 : 1000));
const SIZE = Number(values.mib ?? (quick ? 1 : 10)) * 2 ** 20;
const IDLE = Number(values.idle ?? (quick ? 200 : 2000));
const SLOW = Number(values.slow ?? (quick ? 100 : 1000));
const VALET_ONLY = values['valet-only'] === true;
const WRITE = !quick && !VALET_ONLY && values['no-write'] !== true;
const CHUNK = 64 * 1024;

async function rssOf(pid: number): Promise<{ peak: number; now: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

/** One upload, streamed in 64 KiB writes as fast as the server takes them. */
function upload(base: string, target: string, agent: http.Agent): Promise<number> {
  const url = new URL(base);
  const chunk = Buffer.alloc(CHUNK, 0x61);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: 'PUT',
        path: target,
        agent,
        headers: { 'content-length': String(SIZE), 'content-type': 'application/octet-stream' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < SIZE) {
        const n = Math.min(CHUNK, SIZE - sent);
        sent += n;
        if (!req.write(n === CHUNK ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/** Opens `count` TCP connections that send nothing; resolves with a function that closes them. */
async function idleConnections(base: string, count: number): Promise<() => void> {
  const url = new URL(base);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    sockets.push(
      await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(Number(url.port), url.hostname, () => resolve(s));
        s.on('error', reject);
      }),
    );
  }
  return () => {
    for (const s of sockets) s.destroy();
  };
}

/**
 * Opens `count` connections that each ask for `target` and read nothing (the kernel's buffers
 * fill, then the server holds what it has not sent); resolves with a function that closes them.
 */
async function slowReaders(base: string, target: string, count: number): Promise<() => void> {
  const url = new URL(base);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = net.connect(Number(url.port), url.hostname);
    socket.on('error', () => {});
    socket.write(`GET ${target} HTTP/1.1\r\nHost: bench\r\n\r\n`);
    socket.pause();
    sockets.push(socket);
  }
  return () => {
    for (const s of sockets) s.destroy();
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
async function cpuOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Measured {
  peakUploads: number;
  idleRss: number;
  /** RSS growth with the slow readers, per reader. */
  slowEach: number;
  seconds: number;
  cpu: number;
}

async function measure(
  name: string,
  server: { proc: { pid?: number }; url: string },
  pathFor: (i: number) => Promise<string>,
  expect: number[],
  readPath: string,
): Promise<Measured> {
  const pid = server.proc.pid as number;
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const paths = await Promise.all(Array.from({ length: UPLOADS }, (_, i) => pathFor(i)));
  const started = performance.now();
  const cpuBefore = await cpuOf(pid);
  const statuses = await Promise.all(paths.map((p) => upload(server.url, p, agent)));
  const seconds = (performance.now() - started) / 1000;
  const bad = statuses.filter((s) => !expect.includes(s));
  if (bad.length > 0) throw new Error(`${name}: ${bad.length} uploads answered ${bad[0]}`);
  const cpu = (await cpuOf(pid)) - cpuBefore;
  const peakUploads = (await rssOf(pid)).peak;
  const close = await idleConnections(server.url, IDLE);
  await new Promise((r) => setTimeout(r, 2000));
  const idleRss = (await rssOf(pid)).now;
  close();
  await new Promise((r) => setTimeout(r, 2000));
  const beforeSlow = (await rssOf(pid)).now;
  const closeSlow = await slowReaders(server.url, readPath, SLOW);
  await new Promise((r) => setTimeout(r, 4000));
  const slowEach = ((await rssOf(pid)).now - beforeSlow) / SLOW;
  closeSlow();
  log(
    `  ${name}: ${UPLOADS} × ${SIZE / 2 ** 20} MiB in ${seconds.toFixed(1)} s (server CPU ${cpu.toFixed(1)} s), peak RSS ${(peakUploads / 2 ** 20).toFixed(0)} MiB; ${IDLE} idle connections: RSS ${(idleRss / 2 ** 20).toFixed(0)} MiB; ${SLOW} slow readers: +${(slowEach / 1024).toFixed(0)} KiB each`,
  );
  return { peakUploads, idleRss, slowEach, seconds, cpu };
}

// Both servers run as plain JavaScript, without a TypeScript loader in the process (tsx alone
// holds tens of MiB): Valet from its build (bin/valet.js runs dist/ when it matches the sources),
// the baseline bundled by esbuild.
log('building…');
const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
if (built.status !== 0) throw new Error('npm run build failed');
const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-conc-'));
const baselineJs = path.join(work, 'baseline-server.mjs');
await esbuild.build({
  entryPoints: [path.join(ROOT, 'bench/baseline-server.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: baselineJs,
  logLevel: 'warning',
});
const keys = await benchKeys(work);
const signing = await importSigningKey(JSON.parse(await readFile(keys.keyFile, 'utf8')));
// Fresh processes for each: peak RSS is per process.
log('Valet storage…');
const valet = await startNode(
  [
    'bin/valet.js',
    'storage',
    '--data',
    path.join(work, 'valet'),
    '--jwks',
    keys.jwksFile,
    '--port',
    '0',
    '--log-level',
    'warn',
  ],
  path.join(work, 'valet.log'),
);
const valetResult = await measure(
  'valet',
  valet,
  async (i) =>
    `/o/c/${i}.bin?vk=${await mintValetKey(signing, { op: 'put', object: `c/${i}.bin`, subject: 'bench', ttl: 3600, size: SIZE })}`,
  [200, 201],
  `/o/c/0.bin?vk=${await mintValetKey(signing, { op: 'get', object: 'c/0.bin', subject: 'bench', ttl: 3600 })}`,
);
await stop(valet.proc as never);
await rm(path.join(work, 'valet'), { recursive: true, force: true });
if (VALET_ONLY) {
  await rm(work, { recursive: true, force: true });
  process.exit(0);
}
log('baseline (plain node:http)…');
const plain = await startNode(
  ['--import', 'tsx', 'bench/baseline-server.ts', path.join(work, 'plain')],
  path.join(work, 'plain.log'),
);
const plainResult = await measure('baseline', plain, async (i) => `/c/${i}.bin`, [200, 201, 204], '/c/0.bin');
await stop(plain.proc as never);

const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const table = [
  '| measure | Valet storage | plain node:http | ratio | target |',
  '| --- | ---: | ---: | ---: | --- |',
  `| peak RSS, ${UPLOADS} concurrent ${SIZE / 2 ** 20} MiB uploads (MiB) | ${mib(valetResult.peakUploads)} | ${mib(plainResult.peakUploads)} | ${ratio(valetResult.peakUploads, plainResult.peakUploads)} | < 256 MiB ${valetResult.peakUploads < 256 * 2 ** 20 ? '(met)' : '(**not met**)'} |`,
  `| RSS with ${IDLE} idle connections (MiB) | ${mib(valetResult.idleRss)} | ${mib(plainResult.idleRss)} | ${ratio(valetResult.idleRss, plainResult.idleRss)} | |`,
  `| RSS growth per slow reader, ${SLOW} reading none of a ${SIZE / 2 ** 20} MiB object (KiB) | ${(valetResult.slowEach / 1024).toFixed(0)} | ${(plainResult.slowEach / 1024).toFixed(0)} | ${ratio(valetResult.slowEach, plainResult.slowEach)} | bounded (issue 24) |`,
  `| time for the uploads (s) | ${valetResult.seconds.toFixed(1)} | ${plainResult.seconds.toFixed(1)} | ${ratio(valetResult.seconds, plainResult.seconds)} | |`,
  `| server CPU for the uploads (s) | ${valetResult.cpu.toFixed(1)} | ${plainResult.cpu.toFixed(1)} | ${ratio(valetResult.cpu, plainResult.cpu)} | |`,
].join('\n');
const summary = `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; uploads from this process, 64 KiB writes, no keep-alive; each server a fresh process.`;
console.log(`\n${summary}\n\n${table}\n`);
if (WRITE) log(`updated ${await writeSection('concurrency-bench', `${summary}\n\n${table}`)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
