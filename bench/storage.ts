// Storage benchmark: Valet storage (with valet keys) against a plain node:http file server (no
// checks, fsyncs uploads), measured alternately in one run; medians and ratios are printed and
// written to docs/benchmarks.md.
//
//   npm run bench                 full run (1 GiB objects, 4 KiB objects at concurrency 32, 2 GiB RSS check)
//   npm run bench -- --quick      small smoke run, does not write docs/benchmarks.md
//
// Options: --rounds N (default 4), --large-mib N (1024), --small-count N (12000), --rss-mib N (2048), --no-write
import { type ChildProcess, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { generateSigningJwk, importSigningKey, publicJwk, type SigningKey } from '../src/token/keys.js';
import { mintValetKey } from '../src/token/mint.js';
import { log, median, startNode, writeSection } from './common.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    'large-mib': { type: 'string' },
    'small-count': { type: 'string' },
    'rss-mib': { type: 'string' },
    'no-write': { type: 'boolean' },
  },
});
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 4));
const LARGE = Number(values['large-mib'] ?? (quick ? 64 : 1024)) * 2 ** 20;
const SMALL_COUNT = Number(values['small-count'] ?? (quick ? 3000 : 12000));
// Each 4 KiB run: operation, how keys are used, number of requests.
const SMALL_RUNS: Array<['put' | 'get', 'fresh' | 'reused', number]> = [
  ['put', 'fresh', SMALL_COUNT],
  ['get', 'fresh', SMALL_COUNT],
  ['get', 'reused', SMALL_COUNT],
];
const RSS_BYTES = Number(values['rss-mib'] ?? (quick ? 128 : 2048)) * 2 ** 20;
const SMALL = 4096;
const CONNECTIONS = 32;
const SMALL_OBJECTS = 2000;
const WRITE = !quick && values['no-write'] !== true;

interface Target {
  name: 'valet' | 'plain';
  url: string;
  proc: ChildProcess;
  /** The request path for an operation on an object (with a valet key for Valet). */
  path(op: 'get' | 'put' | 'delete', object: string, maxSize?: number): Promise<string>;
}

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-'));
async function startValet(signing: SigningKey, name: string): Promise<Target> {
  const jwksFile = path.join(work, 'jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: [publicJwk(signing.jwk)] }));
  const { proc, url } = await startNode(
    ['bin/valet.js', 'storage', '--data', path.join(work, name), '--jwks', jwksFile, '--port', '0'],
    path.join(work, `${name}.log`),
  );
  return {
    name: 'valet',
    url,
    proc,
    async path(op, object, maxSize) {
      const token = await mintValetKey(signing, { op, object, subject: 'bench', ttl: 3600, maxSize });
      return `/o/${object}?vk=${token}`;
    },
  };
}

async function startPlain(name: string): Promise<Target> {
  const { proc, url } = await startNode(
    ['--import', 'tsx', 'bench/baseline-server.ts', path.join(work, name)],
    path.join(work, `${name}.log`),
  );
  return { name: 'plain', url, proc, path: async (_op, object) => `/o/${object}` };
}

const chunk = randomBytes(1024 * 1024);

/** Uploads `bytes` from a repeated 1 MiB buffer; resolves with the seconds it took. */
function putLarge(url: string, reqPath: string, bytes: number): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({
      host: hostname,
      port,
      method: 'PUT',
      path: reqPath,
      headers: { 'content-length': bytes },
      agent: false,
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode && res.statusCode < 300
          ? resolve((performance.now() - started) / 1000)
          : reject(new Error(`PUT ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/** Downloads and discards an object; resolves with the seconds it took. */
function getLarge(url: string, reqPath: string, bytes: number): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    http
      .get({ host: hostname, port, path: reqPath, agent: false }, (res) => {
        let received = 0;
        res.on('data', (c: Buffer) => {
          received += c.length;
        });
        res.on('end', () =>
          received === bytes
            ? resolve((performance.now() - started) / 1000)
            : reject(new Error(`GET got ${received} bytes`)),
        );
      })
      .on('error', reject);
  });
}

/**
 * 4 KiB objects at 32 connections: `count` requests over SMALL_OBJECTS objects. With `fresh`,
 * every request carries its own newly minted key, as when each upload or page view gets a key
 * (storage must verify every signature); with `reused`, one key per object serves many requests,
 * as a video's range requests or retries do (storage remembers verified keys).
 */
async function small(
  target: Target,
  op: 'get' | 'put',
  keys: 'fresh' | 'reused',
  count: number,
): Promise<{ rps: number; p99: number }> {
  const perObject =
    keys === 'reused'
      ? await Promise.all(
          Array.from({ length: SMALL_OBJECTS }, (_, i) =>
            target.path(op, `small/${i}`, op === 'put' ? SMALL : undefined),
          ),
        )
      : [];
  const paths =
    keys === 'fresh'
      ? await Promise.all(
          Array.from({ length: count }, (_, i) =>
            target.path(op, `small/${i % SMALL_OBJECTS}`, op === 'put' ? SMALL : undefined),
          ),
        )
      : Array.from({ length: count }, (_, i) => perObject[i % SMALL_OBJECTS] ?? '/');
  const body = randomBytes(SMALL);
  let next = 0;
  let started = 0;
  let last = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        connections: CONNECTIONS,
        amount: count,
        requests: [
          {
            method: op === 'put' ? 'PUT' : 'GET',
            setupRequest: (req) => {
              started ||= performance.now();
              const p = paths[next++] ?? '/';
              return op === 'put' ? { ...req, path: p, body } : { ...req, path: p };
            },
          },
        ],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
    // autocannon settles on its one-second tick; the run really ends with its last response.
    instance.on('response', () => {
      last = performance.now();
    });
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${target.name} ${op}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return { rps: result.requests.total / ((last - started) / 1000), p99: result.latency.p99 };
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb * 1024;
}

/** Flushes the page cache and the journal (untimed), so each timed run starts from a quiet disk. */
function settle(): void {
  spawnSync('sync');
}

const mib = (n: number) => (n / 2 ** 20).toFixed(0);

const signing = await importSigningKey(await generateSigningJwk());
const valet = await startValet(signing, 'valet');
const plain = await startPlain('plain');
const targets = [valet, plain];
const samples: Record<string, Record<Target['name'], number[]>> = {};
const record = (metric: string, target: Target['name'], value: number) => {
  samples[metric] ??= { valet: [], plain: [] };
  samples[metric][target].push(value);
};

// Every small object exists before any timed GET (the timed PUT runs may not reach them all).
for (const t of targets) {
  const body = randomBytes(SMALL);
  for (let i = 0; i < SMALL_OBJECTS; i += CONNECTIONS) {
    await Promise.all(
      Array.from({ length: Math.min(CONNECTIONS, SMALL_OBJECTS - i) }, async (_, j) => {
        const object = `small/${i + j}`;
        const res = await fetch(t.url + (await t.path('put', object, SMALL)), { method: 'PUT', body });
        if (!res.ok) throw new Error(`seeding ${object} on ${t.name}: ${res.status}`);
      }),
    );
  }
}

for (let round = 0; round < ROUNDS; round++) {
  // Alternate who goes first, so neither always gets the warmer machine.
  const order = round % 2 === 0 ? targets : [...targets].reverse();
  for (const t of order) {
    // A new object each round, deleted afterwards: freeing a replaced 1 GiB file (with online
    // discard on this disk) would otherwise land at a random point of someone's timed run.
    const object = `large/round-${round}`;
    settle();
    const putSeconds = await putLarge(t.url, await t.path('put', object, LARGE), LARGE);
    record('large PUT MiB/s', t.name, LARGE / 2 ** 20 / putSeconds);
    settle();
    const getSeconds = await getLarge(t.url, await t.path('get', object), LARGE);
    record('large GET MiB/s', t.name, LARGE / 2 ** 20 / getSeconds);
    const del = await fetch(t.url + (await t.path('delete', object)), { method: 'DELETE' });
    if (del.status !== 204) throw new Error(`DELETE on ${t.name}: ${del.status}`);
    log(
      `round ${round + 1} ${t.name}: ${mib(LARGE)} MiB PUT ${putSeconds.toFixed(2)} s, GET ${getSeconds.toFixed(2)} s`,
    );
  }
  for (const t of order) {
    for (const [op, keys, count] of SMALL_RUNS) {
      settle();
      const r = await small(t, op, keys, count);
      const label = `4 KiB ${op.toUpperCase()}, ${keys} key`;
      record(`${label}: req/s`, t.name, r.rps);
      record(`${label}: p99 ms`, t.name, r.p99);
      log(`round ${round + 1} ${t.name}: ${label} ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms`);
    }
  }
}
for (const t of targets) t.proc.kill('SIGTERM');

// Peak memory of a fresh storage process during one big upload.
const rssValet = await startValet(signing, 'valet-rss');
const rssPlain = await startPlain('plain-rss');
const rss: Record<string, number> = {};
for (const t of [rssValet, rssPlain]) {
  await putLarge(t.url, await t.path('put', 'rss/object', RSS_BYTES), RSS_BYTES);
  rss[t.name] = await peakRss(t.proc.pid ?? 0);
  log(`${t.name}: peak RSS ${mib(rss[t.name] ?? 0)} MiB during a ${mib(RSS_BYTES)} MiB upload`);
  t.proc.kill('SIGTERM');
}

const targetsFor: Record<string, string> = {
  'large PUT MiB/s': '≥ 0.9',
  'large GET MiB/s': '≥ 0.9',
  '4 KiB PUT, fresh key: req/s': '≥ 0.7',
  '4 KiB GET, fresh key: req/s': '≥ 0.7',
  '4 KiB GET, reused key: req/s': '≥ 0.7',
};
const rows = Object.entries(samples).map(([metric, s]) => {
  const v = median(s.valet);
  const p = median(s.plain);
  const ratio = v / p;
  const goal = targetsFor[metric];
  const met = goal ? (ratio >= Number(goal.slice(2)) ? 'met' : 'NOT MET') : '';
  return `| ${metric} | ${v.toFixed(1)} | ${p.toFixed(1)} | ${ratio.toFixed(2)}x | ${goal ?? '(lower is better)'} ${met} |`;
});
const rssMet = (rss.valet ?? 0) < 150 * 2 ** 20 ? 'met' : 'NOT MET';
const table = [
  '| metric (median) | Valet | plain node:http | ratio | target |',
  '| --- | ---: | ---: | ---: | --- |',
  ...rows,
  `| peak RSS, ${mib(RSS_BYTES)} MiB upload (MiB) | ${mib(rss.valet ?? 0)} | ${mib(rss.plain ?? 0)} | | Valet < 150 MiB ${rssMet} |`,
].join('\n');
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const summary = `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${cpu}, Node ${process.version}, ${os.platform()} ${os.release()}; ${ROUNDS} rounds, ${mib(LARGE)} MiB large objects, ${SMALL_COUNT} requests per 4 KiB run at ${CONNECTIONS} connections over ${SMALL_OBJECTS} objects.`;
console.log(`\n${summary}\n\n${table}\n`);

if (WRITE) log(`updated ${await writeSection('storage-bench', `${summary}\n\n${table}`)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
