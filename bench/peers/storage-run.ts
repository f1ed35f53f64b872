// The storage part of `npm run bench:peers`: every system in turn within each round (the first
// one rotating), then any system whose rounds disagree by more than 1.5x run again (twice at
// most), then one table: each figure's median and rounds, ratios against every other system, and
// the issue's targets with their verdicts.
import path from 'node:path';
import type { SigningKey } from '../../src/token/keys.js';
import { log } from '../common.js';
import { diskRate } from '../settle.js';
import { patternFile } from '../transfer.js';
import { largeGet, largePut, peakRss, type SmallResult, small } from './load.js';
import { NOISY, ratioCell, rerunNoisy, roundsCell, targetCell } from './rounds.js';
import { type StorageSystem, type SystemName, startSystem } from './systems.js';

export interface StorageOptions {
  systems: SystemName[];
  rounds: number;
  large: number;
  file: string;
  smallCount: number;
  work: string;
  signing: SigningKey;
}

interface Runs {
  put: number[];
  get: number[];
  putCpu: number[];
  getCpu: number[];
  smallPut: SmallResult[];
  smallGet: SmallResult[];
  rss: number;
}

const MiB = 2 ** 20;
const SMALL = { size: 4096, objects: 2000, connections: 32 };
const WARM = 128 * MiB;
const empty = (): Runs => ({ put: [], get: [], putCpu: [], getCpu: [], smallPut: [], smallGet: [], rss: 0 });
const rotate = <T>(xs: T[], round: number) => xs.map((_, i) => xs[(i + round) % xs.length] as T);

/** The figures a system is rerun for when noisy (latency percentiles are noisy by nature). */
const checked = (r: Runs) => [
  r.put,
  r.get,
  r.smallPut.map((x) => x.rps),
  r.smallGet.map((x) => x.rps),
  r.smallPut.map((x) => x.cpuPerRequest),
  r.smallGet.map((x) => x.cpuPerRequest),
];

async function pass(system: StorageSystem, r: Runs, round: number, o: StorageOptions): Promise<void> {
  const object = `large/${round}-${r.put.length}.bin`;
  const put = await largePut(system, object, o.file, o.large);
  const get = await largeGet(system, object, o.large);
  await system.remove(object);
  r.put.push(o.large / MiB / put.seconds);
  r.get.push(o.large / MiB / get.seconds);
  r.putCpu.push(put.cpu / (o.large / 2 ** 30));
  r.getCpu.push(get.cpu / (o.large / 2 ** 30));
  const smallPut = await small(system, 'put', { ...SMALL, count: o.smallCount });
  const smallGet = await small(system, 'get', { ...SMALL, count: o.smallCount });
  r.smallPut.push(smallPut);
  r.smallGet.push(smallGet);
  log(
    `  round ${round + 1} ${system.name}: PUT ${(o.large / MiB / put.seconds).toFixed(0)} MiB/s (cpu ${put.cpu.toFixed(2)} s), ` +
      `GET ${(o.large / MiB / get.seconds).toFixed(0)} MiB/s; 4 KiB PUT ${smallPut.rps.toFixed(0)} req/s, GET ${smallGet.rps.toFixed(0)} req/s`,
  );
}

/**
 * One untimed pass of every kind of request, small: the first 1 GiB PUT into a fresh process was
 * its slowest round (314 MiB/s against 458-632 later, at twice the CPU: compilation, heaps and
 * the hashing thread starting), which made a system noisy by turn order alone.
 */
async function warmUp(system: StorageSystem, file: string): Promise<void> {
  await largePut(system, 'warm.bin', file, WARM);
  await largeGet(system, 'warm.bin', WARM);
  await system.remove('warm.bin');
  await small(system, 'put', { ...SMALL, count: SMALL.objects });
  await small(system, 'get', { ...SMALL, count: SMALL.objects });
}

/** Runs the storage rounds; returns the table's lines. */
export async function storageSection(o: StorageOptions): Promise<string[]> {
  log(
    `storage: ${o.systems.join(', ')}; ${o.rounds} rounds; ${o.large / MiB} MiB large, ${o.smallCount} small`,
  );
  const systems: StorageSystem[] = [];
  const runs = new Map<string, Runs>();
  let disk = 0;
  // A failed run still stops every system (nginx and Ceph would outlive this process).
  try {
    for (const name of o.systems) {
      log(`  starting ${name}…`);
      systems.push(await startSystem(name, o.work, o.signing));
      runs.set(name, empty());
    }
    // The disk alone, once and before the warm-ups: a system timed right after this probe's 1 GiB
    // write and delete ran at 0.6-0.7x its other rounds, so it is never inside a round.
    disk = await diskRate(o.work);
    log(`  the disk alone (dd 1 GiB, fsync): ${disk.toFixed(0)} MiB/s`);
    const warm = path.join(o.work, 'warm.bin');
    await patternFile(warm, WARM);
    for (const system of systems) await warmUp(system, warm);
    for (let round = 0; round < o.rounds; round++) {
      for (const system of rotate(systems, round))
        await pass(system, runs.get(system.name) as Runs, round, o);
    }
    await rerunNoisy(
      systems,
      (s) => checked(runs.get(s.name) as Runs),
      async (system) => {
        const r = empty();
        for (let round = 0; round < o.rounds; round++) await pass(system, r, round, o);
        runs.set(system.name, r);
      },
    );
    for (const system of systems) (runs.get(system.name) as Runs).rss = peakRss(system.pids());
  } finally {
    for (const system of systems) await system.stop().catch(() => {});
  }
  const dd = `The disk alone before the rounds (\`dd\` 1 GiB, \`conv=fsync\`): ${disk.toFixed(0)} MiB/s.`;
  return [...table(systems, runs, o.large), dd, '', ...targets(runs)];
}

type Pick = (r: Runs) => number[];
const ROWS = (large: number): Array<[string, Pick, number, boolean]> => [
  [`${large / MiB} MiB PUT, MiB/s`, (r) => r.put, 0, true],
  [`${large / MiB} MiB GET, MiB/s`, (r) => r.get, 0, true],
  ['4 KiB PUT, req/s', (r) => r.smallPut.map((x) => x.rps), 0, true],
  ['4 KiB GET, req/s', (r) => r.smallGet.map((x) => x.rps), 0, true],
  ['4 KiB PUT, p99 ms', (r) => r.smallPut.map((x) => x.p99), 0, false],
  ['4 KiB GET, p99 ms', (r) => r.smallGet.map((x) => x.p99), 0, false],
  ['server CPU per GiB PUT, s', (r) => r.putCpu, 2, true],
  ['server CPU per GiB GET, s', (r) => r.getCpu, 2, true],
  ['server CPU per 4 KiB PUT, ms', (r) => r.smallPut.map((x) => x.cpuPerRequest * 1000), 3, true],
  ['server CPU per 4 KiB GET, ms', (r) => r.smallGet.map((x) => x.cpuPerRequest * 1000), 3, true],
  ['peak RSS, MiB', (r) => [r.rss / MiB], 0, true],
];
function table(systems: StorageSystem[], runs: Map<string, Runs>, large: number): string[] {
  const names = systems.map((s) => s.name);
  const others = names.includes('valet') ? names.filter((n) => n !== 'valet') : [];
  const of = (name: string, pick: Pick) => pick(runs.get(name) as Runs);
  const out = [
    `| work: median (rounds) | ${names.join(' | ')} | ${others.map((o) => `Valet / ${o}`).join(' | ')} |`,
    `| --- | ${names.map(() => '---:').join(' | ')} | ${others.map(() => '---:').join(' | ')} |`,
  ];
  for (const [label, pick, digits, ratios] of ROWS(large)) {
    const cells = names.map((n) => roundsCell(of(n, pick), digits));
    const r = others.map((o) => (ratios ? ratioCell(of('valet', pick), of(o, pick)) : ''));
    out.push(`| ${label} | ${cells.join(' | ')} | ${r.join(' | ')} |`);
  }
  out.push('', ...systems.map((s) => `- ${s.name}: ${s.label}`), '');
  return out;
}

/** Issue 29's storage targets, each with its verdict (only for the systems that ran). */
function targets(runs: Map<string, Runs>): string[] {
  const v = runs.get('valet');
  if (!v) return [];
  const out = ['| target (Valet / other, medians) | verdict |', '| --- | --- |'];
  const add = (label: string, other: string, pick: Pick, goal: number, atMost = false) => {
    const o = runs.get(other);
    if (o) out.push(`| ${label} | ${targetCell(pick(v), pick(o), goal, atMost)} |`);
  };
  const rps = (k: 'smallPut' | 'smallGet') => (r: Runs) => r[k].map((x) => x.rps);
  const cpu = (k: 'smallPut' | 'smallGet') => (r: Runs) => r[k].map((x) => x.cpuPerRequest);
  add('large PUT vs plain', 'plain', (r) => r.put, 0.9);
  add('large GET vs plain', 'plain', (r) => r.get, 1.0);
  add('4 KiB PUT vs plain + verify', 'plain-verify', rps('smallPut'), 1.0);
  add('4 KiB GET vs plain + verify', 'plain-verify', rps('smallGet'), 1.0);
  add('4 KiB PUT vs plain', 'plain', rps('smallPut'), 0.6);
  add('4 KiB GET vs plain', 'plain', rps('smallGet'), 0.6);
  add('CPU per 4 KiB PUT vs plain + verify', 'plain-verify', cpu('smallPut'), 1.3, true);
  add('CPU per 4 KiB GET vs plain + verify', 'plain-verify', cpu('smallGet'), 1.3, true);
  const rows: Array<[string, Pick, boolean]> = [
    ['large PUT', (r) => r.put, true],
    ['large GET', (r) => r.get, true],
    ['4 KiB PUT', rps('smallPut'), true],
    ['4 KiB GET', rps('smallGet'), true],
  ];
  for (const engine of ['ceph', 'azurite']) {
    const e = runs.get(engine);
    if (!e) continue;
    // Ahead in every round: Valet's slowest round beats the engine's fastest.
    const behind = rows.filter(([, pick]) => Math.min(...pick(v)) <= Math.max(...pick(e))).map(([l]) => l);
    out.push(
      `| ahead of ${engine} on every row in every round | ${behind.length === 0 ? 'met' : `**not met**: ${behind.join(', ')}`} |`,
    );
  }
  out.push('', `Spread of a figure = its slowest round against its fastest; over ${NOISY}x is noisy.`, '');
  return out;
}
