// Valet against its peers, on this machine, in one run (issue 16):
//   - storage: Valet storage, a plain node:http server that fsyncs, nginx WebDAV, Azurite, Ceph RGW:
//     1 GiB PUT and GET with curl, 4 KiB PUT and GET with autocannon (a fresh key, SAS or
//     presigned URL per request), the store's CPU per request and its peak RSS;
//   - resumable: Valet storage's tus against plain @tus/server + @tus/file-store, same client;
//   - minting: Valet's issuer in an app against a hand-written endpoint (jose bearer check + AWS
//     presign) and a hello-world server, all behind the same JWT bearer;
//   - key checks: verifying valet keys against a bare node:crypto.verify with a cached KeyObject.
// Systems alternate within each round (the first one rotates), medians over the rounds, ratios
// Valet / other.
//
//   npm run bench:peers                    full run; rewrites its section of docs/benchmarks.md
//   npm run bench:peers -- --quick         smoke run (64 MiB, 2000 requests, 1 round), prints only
//
// Options: --rounds N (3), --large-mib N (1024), --small-count N (12000), --seconds N (10),
//          --only storage,resumable,minting,verify   --systems valet,plain,nginx,azurite,ceph   --no-write
// Needs nginx (apt-get install -y nginx-light), curl and the Ceph packages test-deps installs.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningJwk, importSigningKey } from '../src/token/keys.js';
import { benchKeys, log, median, startNode, startStorageAndApp, stop, writeSection } from './common.js';
import { largeGet, largePut, peakRss, type SmallResult, small } from './peers/load.js';
import { type MintResult, mintLoad, startIdp } from './peers/minting.js';
import { type StorageSystem, SYSTEM_NAMES, type SystemName, startSystem } from './peers/systems.js';
import { type TusTarget, tusUpload } from './peers/tus.js';
import { verifyBench } from './peers/verify.js';
import { patternFile } from './transfer.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    'large-mib': { type: 'string' },
    'small-count': { type: 'string' },
    seconds: { type: 'string' },
    only: { type: 'string' },
    systems: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
});
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const LARGE = Number(values['large-mib'] ?? (quick ? 64 : 1024)) * 2 ** 20;
const SMALL_COUNT = Number(values['small-count'] ?? (quick ? 2000 : 12000));
const SECONDS = Number(values.seconds ?? (quick ? 2 : 10));
const SECTIONS = new Set((values.only ?? 'storage,resumable,minting,verify').split(','));
const SYSTEMS = (values.systems?.split(',') ?? SYSTEM_NAMES) as SystemName[];
const WRITE =
  !quick && values['no-write'] !== true && values.only === undefined && values.systems === undefined;
const SMALL = { size: 4096, objects: 2000, connections: 32 };
const MiB = 2 ** 20;

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-peers-'));
const signing = await importSigningKey(await generateSigningJwk());
const file = path.join(work, 'large.bin');
const lines: string[] = [];
const rotate = <T>(xs: T[], round: number) => xs.map((_, i) => xs[(i + round) % xs.length] as T);
const fmt = (n: number, digits = 0) => n.toFixed(digits);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

// ---- storage ---------------------------------------------------------------------------------
interface StorageRuns {
  put: number[];
  get: number[];
  putCpu: number[];
  getCpu: number[];
  smallPut: SmallResult[];
  smallGet: SmallResult[];
  rss: number;
}

if (SECTIONS.has('storage') || SECTIONS.has('resumable')) await patternFile(file, LARGE);

if (SECTIONS.has('storage')) {
  log(`storage: ${SYSTEMS.join(', ')}; ${ROUNDS} rounds; ${LARGE / MiB} MiB large, ${SMALL_COUNT} small`);
  const systems: StorageSystem[] = [];
  for (const name of SYSTEMS) {
    log(`  starting ${name}…`);
    systems.push(await startSystem(name, work, signing));
  }
  const runs = new Map<string, StorageRuns>(
    systems.map((s) => [
      s.name,
      { put: [], get: [], putCpu: [], getCpu: [], smallPut: [], smallGet: [], rss: 0 },
    ]),
  );
  // A failed run still stops every system (nginx and Ceph would outlive this process).
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const system of rotate(systems, round)) {
        const r = runs.get(system.name) as StorageRuns;
        const object = `large/${round}.bin`;
        const put = await largePut(system, object, file, LARGE);
        const get = await largeGet(system, object, LARGE);
        await system.remove(object);
        r.put.push(LARGE / MiB / put.seconds);
        r.get.push(LARGE / MiB / get.seconds);
        r.putCpu.push(put.cpu / (LARGE / 2 ** 30));
        r.getCpu.push(get.cpu / (LARGE / 2 ** 30));
        const smallPut = await small(system, 'put', { ...SMALL, count: SMALL_COUNT });
        const smallGet = await small(system, 'get', { ...SMALL, count: SMALL_COUNT });
        r.smallPut.push(smallPut);
        r.smallGet.push(smallGet);
        log(
          `  round ${round + 1} ${system.name}: PUT ${fmt(LARGE / MiB / put.seconds)} MiB/s (cpu ${fmt(put.cpu, 2)} s), ` +
            `GET ${fmt(LARGE / MiB / get.seconds)} MiB/s; 4 KiB PUT ${fmt(smallPut.rps)} req/s, GET ${fmt(smallGet.rps)} req/s`,
        );
      }
    }
    for (const system of systems) (runs.get(system.name) as StorageRuns).rss = peakRss(system.pids());
  } finally {
    for (const system of systems) await system.stop().catch(() => {});
  }
  lines.push(...storageTable(systems, runs));
}

function storageTable(systems: StorageSystem[], runs: Map<string, StorageRuns>): string[] {
  const names = systems.map((s) => s.name);
  const m = (name: string, pick: (r: StorageRuns) => number[]) => median(pick(runs.get(name) as StorageRuns));
  const rows: Array<[string, (r: StorageRuns) => number[], number]> = [
    [`${LARGE / MiB} MiB PUT, MiB/s`, (r) => r.put, 0],
    [`${LARGE / MiB} MiB GET, MiB/s`, (r) => r.get, 0],
    ['4 KiB PUT, req/s', (r) => r.smallPut.map((x) => x.rps), 0],
    ['4 KiB GET, req/s', (r) => r.smallGet.map((x) => x.rps), 0],
    ['4 KiB PUT, p99 ms', (r) => r.smallPut.map((x) => x.p99), 0],
    ['4 KiB GET, p99 ms', (r) => r.smallGet.map((x) => x.p99), 0],
    ['server CPU per GiB PUT, s', (r) => r.putCpu, 2],
    ['server CPU per GiB GET, s', (r) => r.getCpu, 2],
    ['server CPU per 4 KiB PUT, ms', (r) => r.smallPut.map((x) => x.cpuPerRequest * 1000), 3],
    ['server CPU per 4 KiB GET, ms', (r) => r.smallGet.map((x) => x.cpuPerRequest * 1000), 3],
    ['peak RSS, MiB', (r) => [r.rss / MiB], 0],
  ];
  const others = names.filter((n) => n !== 'valet');
  const out = [
    `| work (median) | ${names.join(' | ')} | ${others.map((o) => `Valet / ${o}`).join(' | ')} |`,
    `| --- | ${names.map(() => '---:').join(' | ')} | ${others.map(() => '---:').join(' | ')} |`,
  ];
  for (const [label, pick, digits] of rows) {
    const cells = names.map((n) => fmt(m(n, pick), digits));
    const ratios = names.includes('valet') ? others.map((o) => ratio(m('valet', pick), m(o, pick))) : [];
    out.push(`| ${label} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  out.push('', ...systems.map((s) => `- ${s.name}: ${s.label}`), '');
  return out;
}

// ---- resumable -------------------------------------------------------------------------------
if (SECTIONS.has('resumable')) {
  log(`resumable: ${ROUNDS} rounds of ${LARGE / MiB} MiB, one PATCH and 64 MiB PATCHes`);
  const valet = await startSystem('valet', work, signing);
  const tusServer = await startNode(
    ['--import', 'tsx', 'bench/peers/tus-server.ts', path.join(work, 'tus-files')],
    path.join(work, 'tus.log'),
  );
  const { mintValetKey } = await import('../src/token/mint.js');
  const valetUrl = new URL((await valet.get('x')).url).origin;
  const targets: TusTarget[] = [
    {
      name: 'valet',
      pids: valet.pids,
      async creation(object, size) {
        const token = await mintValetKey(signing, {
          op: 'put',
          object,
          subject: 'bench',
          ttl: 3600,
          resumable: true,
          maxSize: size,
        });
        return { url: `${valetUrl}/uploads`, headers: { authorization: `Bearer ${token}` } };
      },
    },
    {
      name: '@tus/server',
      pids: () => (tusServer.proc.pid === undefined ? [] : [tusServer.proc.pid]),
      creation: async () => ({ url: `${tusServer.url}/files`, headers: {} }),
    },
  ];
  const results = new Map<
    string,
    { one: number[]; chunked: number[]; oneCpu: number[]; chunkedCpu: number[] }
  >(targets.map((t) => [t.name, { one: [], chunked: [], oneCpu: [], chunkedCpu: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of rotate(targets, round)) {
      const r = results.get(target.name);
      if (!r) continue;
      const one = await tusUpload(target, `tus/one-${round}.bin`, file, LARGE, LARGE);
      const chunked = await tusUpload(target, `tus/chunked-${round}.bin`, file, LARGE, 64 * MiB);
      r.one.push(LARGE / 1e6 / one.seconds);
      r.chunked.push(LARGE / 1e6 / chunked.seconds);
      r.oneCpu.push(one.cpu / (LARGE / 2 ** 30));
      r.chunkedCpu.push(chunked.cpu / (LARGE / 2 ** 30));
      log(
        `  round ${round + 1} ${target.name}: one PATCH ${fmt(LARGE / 1e6 / one.seconds)} MB/s, 64 MiB PATCHes ${fmt(LARGE / 1e6 / chunked.seconds)} MB/s`,
      );
    }
  }
  await valet.stop();
  await stop(tusServer.proc);
  const v = results.get('valet');
  const t = results.get('@tus/server');
  if (v && t) {
    lines.push(
      '| resumable (median) | Valet | @tus/server + file-store | ratio | target |',
      '| --- | ---: | ---: | ---: | --- |',
      tusRow(`tus, ${LARGE / MiB} MiB in one PATCH, MB/s`, median(v.one), median(t.one)),
      tusRow('tus, in 64 MiB PATCHes, MB/s', median(v.chunked), median(t.chunked)),
      `| server CPU per GiB, one PATCH, s | ${fmt(median(v.oneCpu), 2)} | ${fmt(median(t.oneCpu), 2)} | | |`,
      `| server CPU per GiB, 64 MiB PATCHes, s | ${fmt(median(v.chunkedCpu), 2)} | ${fmt(median(t.chunkedCpu), 2)} | | |`,
      '',
    );
  }
}

function tusRow(label: string, valet: number, tus: number): string {
  const met = valet / tus >= 0.9 ? 'met' : '**not met**';
  return `| ${label} | ${fmt(valet)} | ${fmt(tus)} | ${ratio(valet, tus)} | ≥ 0.9x (${met}) |`;
}

// ---- minting ---------------------------------------------------------------------------------
if (SECTIONS.has('minting')) {
  log(`minting: ${ROUNDS} rounds of ${SECONDS} s at 50 connections`);
  const idp = await startIdp();
  const keys = await benchKeys(work);
  const { storage, app } = await startStorageAndApp(work, keys, {
    mode: 'valet',
    tag: 'mint',
    jwksUri: idp.jwksUri,
    bearer: idp.bearer,
  });
  const presign = await startNode(
    ['--import', 'tsx', 'bench/peers/presign-server.ts', idp.jwksUri],
    path.join(work, 'presign.log'),
  );
  const hello = await startNode(['--import', 'tsx', 'bench/hello-server.ts'], path.join(work, 'hello.log'));
  const targets = [
    { name: 'valet', url: app.url, pids: [app.proc.pid as number] },
    { name: 'hand-written', url: presign.url, pids: [presign.proc.pid as number] },
    { name: 'hello', url: hello.url, pids: [hello.proc.pid as number] },
  ];
  const runs = new Map<string, MintResult[]>(targets.map((t) => [t.name, []]));
  const options = { bearer: idp.bearer, connections: 50 };
  for (const t of targets) await mintLoad(t.url, t.pids, { ...options, seconds: 1, tag: `warm-${t.name}` });
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of rotate(targets, round)) {
      const run = await mintLoad(t.url, t.pids, { ...options, seconds: SECONDS, tag: `${t.name}-${round}` });
      runs.get(t.name)?.push(run);
      log(`  round ${round + 1} ${t.name}: ${fmt(run.rps)} req/s, p99 ${run.p99} ms`);
    }
  }
  await Promise.all([stop(app.proc), stop(storage.proc), stop(presign.proc), stop(hello.proc)]);
  await idp.close();
  const m = (name: string, pick: (r: MintResult) => number) => median((runs.get(name) ?? []).map(pick));
  const valetRps = m('valet', (r) => r.rps);
  const handRps = m('hand-written', (r) => r.rps);
  const p99 = m('valet', (r) => r.p99);
  lines.push(
    '| minting at 50 connections (median) | Valet issuer | hand-written presign | hello-world | Valet / hand-written | target |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    `| keys/s | ${fmt(valetRps)} | ${fmt(handRps)} | ${fmt(m('hello', (r) => r.rps))} | ${ratio(valetRps, handRps)} | ≥ 2x (${valetRps / handRps >= 2 ? 'met' : '**not met**'}) |`,
    `| p99 latency, ms | ${fmt(p99)} | ${fmt(m('hand-written', (r) => r.p99))} | ${fmt(m('hello', (r) => r.p99))} | | < 20 ms (${p99 < 20 ? 'met' : '**not met**'}) |`,
    `| server CPU per request, ms | ${fmt(
      m('valet', (r) => r.cpuPerRequest * 1000),
      3,
    )} | ${fmt(
      m('hand-written', (r) => r.cpuPerRequest * 1000),
      3,
    )} | ${fmt(
      m('hello', (r) => r.cpuPerRequest * 1000),
      3,
    )} | | |`,
    '',
  );
}

// ---- key checks ------------------------------------------------------------------------------
if (SECTIONS.has('verify')) {
  const count = quick ? 2000 : 10000;
  log(`key checks: ${ROUNDS} rounds of ${count} fresh keys`);
  const round = await verifyBench(count);
  const valet: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < Math.max(ROUNDS, 3); i++) {
    const r = await round(i);
    valet.push(r.valet);
    bare.push(r.bare);
    log(`  round ${i + 1}: valet ${fmt(r.valet)}/s, bare ${fmt(r.bare)}/s`);
  }
  const slower = median(bare) / median(valet);
  lines.push(
    '| key check (median) | Valet `verifyValetKey` | bare `crypto.verify`, cached KeyObject | time ratio | target |',
    '| --- | ---: | ---: | ---: | --- |',
    `| fresh valet keys checked per second | ${fmt(median(valet))} | ${fmt(median(bare))} | ${slower.toFixed(2)}x | ≤ 1.2x (${slower <= 1.2 ? 'met' : '**not met**'}) |`,
    '',
  );
}

const cpus = os.cpus();
const header = `Run ${new Date().toISOString().slice(0, 10)} on ${cpus.length} × ${cpus[0]?.model.trim()}, Node ${process.version}, linux ${os.release()}; ${ROUNDS} rounds.`;
const text = [header, '', ...lines].join('\n').trimEnd();
process.stdout.write(`${text}\n`);
if (WRITE) log(`wrote ${await writeSection('peers-bench', text)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
