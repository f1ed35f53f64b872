// Issuer benchmarks, each against a baseline measured in the same run:
//   1. Minting: keys per second and p99 latency through the issuer's HTTP handler (POST /v1/keys,
//      autocannon, 50 connections) against a hello-world node:http server.
//   2. The pattern's payoff: 1 GiB uploads through a relay endpoint (the app receives the upload
//      and forwards it to storage) against Valet (the app only mints; the client sends the bytes
//      to storage). Reports the app process's CPU seconds and bytes received per upload.
//
//   npm run bench:issuer               full run; rewrites its section of docs/benchmarks.md
//   npm run bench:issuer -- --quick    smoke run (2 s runs, 64 MiB uploads), prints only
//
// Options: --rounds N (3), --seconds N (10), --upload-mib N (1024), --uploads N (2), --no-write
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { createClient } from '../src/client/client.js';
import { benchKeys, log, median, startNode, startStorageAndApp, stop, writeSection } from './common.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    'upload-mib': { type: 'string' },
    uploads: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
});
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const SECONDS = Number(values.seconds ?? (quick ? 2 : 10));
const UPLOAD = Number(values['upload-mib'] ?? (quick ? 64 : 1024)) * 2 ** 20;
const UPLOADS = Number(values.uploads ?? 2);
const CONNECTIONS = 50;
const WRITE = !quick && values['no-write'] !== true;

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-issuer-'));
const keys = await benchKeys(work);

/** Starts storage and the app (its issuer wired to that storage). */
function startPair(mode: 'valet' | 'relay', tag: string) {
  return startStorageAndApp(work, keys, { mode, tag });
}

interface Stats {
  cpuSeconds: number;
  bytes: Record<string, number>;
  cpu: Record<string, number>;
}

async function stats(url: string): Promise<Stats> {
  return (await fetch(`${url}/stats`)).json() as Promise<Stats>;
}

// ---- 1. minting -----------------------------------------------------------------------------

/** One autocannon run at saturation. */
async function load(url: string, name: string): Promise<{ rps: number; p99: number }> {
  let n = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(
      {
        url: `${url}/v1/keys`,
        connections: CONNECTIONS,
        duration: SECONDS,
        requests: [
          {
            method: 'POST',
            headers: { authorization: 'Bearer user:alice', 'content-type': 'application/json' },
            setupRequest: (req) => ({
              ...req,
              body: JSON.stringify({
                op: 'put',
                name: `bench/${name}-${n++}.bin`,
                size: 4096,
                content_type: 'application/octet-stream',
              }),
            }),
          },
        ],
      },
      (error, res) => (error ? reject(error) : resolve(res)),
    );
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return { rps: result.requests.average, p99: result.latency.p99 };
}

log(`minting: ${ROUNDS} rounds of ${SECONDS} s at ${CONNECTIONS} connections`);
const { storage: mintStorage, app: mintApp } = await startPair('valet', 'mint');
const hello = await startNode(['--import', 'tsx', 'bench/hello-server.ts'], path.join(work, 'hello.log'));
const mintRuns: Record<'valet' | 'hello', Array<{ rps: number; p99: number }>> = { valet: [], hello: [] };
await load(mintApp.url, 'warmup');
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? (['valet', 'hello'] as const) : (['hello', 'valet'] as const);
  for (const who of order) {
    const run = await load(who === 'valet' ? mintApp.url : hello.url, `${who}-${round}`);
    mintRuns[who].push(run);
    log(`  round ${round + 1} ${who}: ${Math.round(run.rps)} req/s, p99 ${run.p99} ms`);
  }
}
await Promise.all([stop(mintApp.proc), stop(mintStorage.proc), stop(hello.proc)]);

// ---- 2. relay against direct ---------------------------------------------------------------

const file = path.join(work, 'upload.bin');
{
  const chunk = randomBytes(2 ** 20);
  const out = createWriteStream(file);
  for (let i = 0; i < UPLOAD / chunk.length; i++) {
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}
const digest = createHash('sha256');
await pipeline(createReadStream(file), digest);
const sha256 = digest.digest('hex');

function relayUpload(appUrl: string, name: string): Promise<void> {
  const { hostname, port } = new URL(appUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname, port, method: 'PUT', path: `/relay/${name}`, headers: { 'content-length': UPLOAD } },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 201 || res.statusCode === 200
            ? resolve()
            : reject(new Error(`relay ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

interface PayoffRun {
  /** App CPU spent serving the upload's requests (the key or the relay, and its webhook). */
  cpuPerUpload: number;
  /** App process CPU over the whole run, per upload (includes revocation polls and idle wakes). */
  rawCpuPerUpload: number;
  bytesPerUpload: number;
  seconds: number;
}

async function payoff(mode: 'valet' | 'relay', round: number): Promise<PayoffRun> {
  const { storage, app } = await startPair(mode, `${mode}-${round}`);
  const client = createClient({ issuer: app.url, getToken: () => 'user:alice' });
  const before = await stats(app.url);
  const started = performance.now();
  for (let i = 0; i < UPLOADS; i++) {
    if (mode === 'valet') {
      const result = await client.upload(await openAsBlob(file), {
        name: `big-${i}.bin`,
        sha256,
        resumable: false,
      });
      if (result.sha256 !== sha256) throw new Error('digest mismatch');
    } else {
      await relayUpload(app.url, `big-${i}.bin`);
    }
  }
  // Let the completion webhooks arrive: they are part of the app's cost per upload.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const after = await stats(app.url);
  const seconds = (performance.now() - started) / 1000;
  await Promise.all([stop(app.proc), stop(storage.proc)]);
  const delta = (map: 'bytes' | 'cpu', route: string) =>
    ((after[map][route] ?? 0) - (before[map][route] ?? 0)) / UPLOADS;
  const routes = ['keys', 'events', 'relay'];
  return {
    cpuPerUpload: routes.reduce((sum, r) => sum + delta('cpu', r), 0),
    rawCpuPerUpload: (after.cpuSeconds - before.cpuSeconds) / UPLOADS,
    bytesPerUpload: routes.reduce((sum, r) => sum + delta('bytes', r), 0),
    seconds,
  };
}

log(`payoff: ${ROUNDS} rounds of ${UPLOADS} × ${UPLOAD / 2 ** 20} MiB uploads per mode`);
const payoffRuns: Record<'valet' | 'relay', PayoffRun[]> = { valet: [], relay: [] };
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? (['valet', 'relay'] as const) : (['relay', 'valet'] as const);
  for (const mode of order) {
    const run = await payoff(mode, round);
    payoffRuns[mode].push(run);
    log(
      `  round ${round + 1} ${mode}: app CPU ${run.cpuPerUpload.toFixed(4)} s/upload (raw ${run.rawCpuPerUpload.toFixed(3)}), app bytes ${Math.round(run.bytesPerUpload)}/upload, ${run.seconds.toFixed(1)} s`,
    );
  }
}

// ---- report -----------------------------------------------------------------------------------

const m = <T>(runs: T[], f: (r: T) => number) => median(runs.map(f));
const mintRps = m(mintRuns.valet, (r) => r.rps);
const helloRps = m(mintRuns.hello, (r) => r.rps);
const mintP99 = m(mintRuns.valet, (r) => r.p99);
const valetCpu = m(payoffRuns.valet, (r) => r.cpuPerUpload);
const relayCpu = m(payoffRuns.relay, (r) => r.cpuPerUpload);
const valetRaw = m(payoffRuns.valet, (r) => r.rawCpuPerUpload);
const relayRaw = m(payoffRuns.relay, (r) => r.rawCpuPerUpload);
const valetBytes = m(payoffRuns.valet, (r) => r.bytesPerUpload);
const relayBytes = m(payoffRuns.relay, (r) => r.bytesPerUpload);
const ok = (met: boolean) => (met ? '(met)' : '(**not met**)');
const mib = UPLOAD / 2 ** 20;
const table = [
  '| metric (median) | Valet | baseline | ratio | target |',
  '| --- | ---: | ---: | ---: | --- |',
  `| minting, requests/s (baseline: hello-world node:http) | ${Math.round(mintRps)} | ${Math.round(helloRps)} | ${(mintRps / helloRps).toFixed(2)}x | ≥ 0.4x ${ok(mintRps / helloRps >= 0.4)} |`,
  `| minting, p99 latency at saturation (ms) | ${mintP99} | ${m(mintRuns.hello, (r) => r.p99)} | | < 10 ms ${ok(mintP99 < 10)} |`,
  `| app CPU per ${mib} MiB upload, serving its requests (s) (baseline: relay) | ${valetCpu.toFixed(4)} | ${relayCpu.toFixed(3)} | ${((100 * valetCpu) / relayCpu).toFixed(2)}% | < 1% ${ok(valetCpu < relayCpu / 100)} |`,
  `| app process CPU per ${mib} MiB upload, all of it (s) | ${valetRaw.toFixed(4)} | ${relayRaw.toFixed(3)} | ${((100 * valetRaw) / relayRaw).toFixed(2)}% | (see below) |`,
  `| app bytes received per ${mib} MiB upload (baseline: relay) | ${Math.round(valetBytes)} | ${Math.round(relayBytes)} | | < 8 KiB ${ok(valetBytes < 8192)} |`,
].join('\n');
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const summary = `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${cpu}, Node ${process.version}; ${ROUNDS} rounds; minting ${SECONDS} s runs at ${CONNECTIONS} connections; ${UPLOADS} uploads of ${mib} MiB per mode and round.`;
console.log(`\n${summary}\n\n${table}\n`);
if (WRITE) log(`updated ${await writeSection('issuer-bench', `${summary}\n\n${table}`)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
