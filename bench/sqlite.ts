// The issuer's SQLite record store on node:sqlite against the same store on better-sqlite3, in
// one run on one Node: which engine the embedded default should use where both can run. Each
// round opens a fresh file per engine (alternating, the first rotating) and times, through
// SqliteRecordStore itself: reservations with a quota (a usage query and an insert, in batches
// of 50 the way concurrent mints share a group commit), then the storage events that complete
// them, then listing pages.
//
// better-sqlite3 must be built for the Node that runs this (the project's is built for the
// machine's Node 20): see docs/benchmarks.md for the two commands.
//
//   PATH=NODE24/bin:$PATH npx tsx bench/sqlite.ts --better-sqlite3 DIR [--rounds 5] [--ops 5000] [--no-write]
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { created, grant, T0 } from '../src/issuer/records/contract-fixtures.js';
import { SqliteRecordStore } from '../src/issuer/records/sqlite-records.js';
import type { SqliteEngine } from '../src/sqlite/database.js';
import { log, median, writeSection } from './common.js';

const { values } = parseArgs({
  options: {
    'better-sqlite3': { type: 'string' },
    rounds: { type: 'string' },
    ops: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
});
const ROUNDS = Number(values.rounds ?? 5);
const OPS = Number(values.ops ?? 5000);
const BATCH = 50;

// Let the store's `require('better-sqlite3')` find the build for this Node.
if (values['better-sqlite3']) {
  const here = createRequire(new URL('../src/sqlite/database.ts', import.meta.url));
  const resolved = here.resolve('better-sqlite3');
  const build = createRequire(path.join(values['better-sqlite3'], 'package.json'))(values['better-sqlite3']);
  here.cache[resolved] = { id: resolved, filename: resolved, loaded: true, exports: build } as NodeJS.Module;
}

type Phase = 'reserve' | 'complete' | 'list';

async function round(engine: SqliteEngine): Promise<Record<Phase, number>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-sqlite-'));
  const store = SqliteRecordStore.open(path.join(dir, 'issuer.sqlite'), { engine });
  try {
    const grants = Array.from({ length: OPS }, (_, i) =>
      grant(`users/u${i % 100}/f${i}`, 10, { subject: `u${i % 100}` }),
    );
    const quota = { maxBytes: 10 * 2 ** 30, maxObjects: 100_000 };
    const time = async (work: (from: number) => Promise<unknown>) => {
      const started = performance.now();
      for (let from = 0; from < OPS; from += BATCH) await work(from);
      return OPS / ((performance.now() - started) / 1000);
    };
    const reserve = await time((from) =>
      Promise.all(grants.slice(from, from + BATCH).map((g) => store.reserveUpload(g, quota, T0))),
    );
    const complete = await time((from) =>
      Promise.all(grants.slice(from, from + BATCH).map((g) => store.recordEvent(created(g, 10)))),
    );
    const listStarted = performance.now();
    for (let i = 0; i < OPS / 10; i++) await store.listObjects(`u${i % 100}`, { limit: 50 });
    const list = OPS / 10 / ((performance.now() - listStarted) / 1000);
    return { reserve, complete, list };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const engines: SqliteEngine[] = ['node:sqlite', 'better-sqlite3'];
const results: Record<SqliteEngine, Array<Record<Phase, number>>> = {
  'node:sqlite': [],
  'better-sqlite3': [],
};
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? engines : [...engines].reverse();
  for (const engine of order) {
    const result = await round(engine);
    results[engine].push(result);
    log(
      `round ${r + 1} ${engine}: reserve ${result.reserve.toFixed(0)}/s, complete ${result.complete.toFixed(0)}/s, list ${result.list.toFixed(0)}/s`,
    );
  }
}

const phases: Phase[] = ['reserve', 'complete', 'list'];
const rows = phases.map((phase) => {
  const ours = results['node:sqlite'].map((r) => r[phase]);
  const theirs = results['better-sqlite3'].map((r) => r[phase]);
  const ratios = ours.map((v, i) => v / (theirs[i] as number));
  return `| ${phase} (ops/s) | ${median(ours).toFixed(0)} | ${median(theirs).toFixed(0)} | ${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)} to ${Math.max(...ratios).toFixed(2)}) |`;
});
const text = [
  `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}; ${ROUNDS} rounds of ${OPS} operations, engines alternating, the first rotating; medians, and node:sqlite / better-sqlite3 per round (spread).`,
  '',
  '| phase | node:sqlite | better-sqlite3 | ratio |',
  '| --- | --- | --- | --- |',
  ...rows,
].join('\n');
process.stdout.write(`${text}\n`);
if (!values['no-write']) await writeSection('sqlite', text);
