// Minting with several issuer replicas on PostgreSQL, against one issuer on SQLite, in one run:
// keys per second and p99 latency for 1, 2 and 3 replicas (each a process of bench/issuer-app.ts
// on one PostgreSQL, Debian's, started here) and for one replica on a SQLite file. Same load
// generator for all (autocannon in this process, 50 connections split evenly over the replicas
// in use; a hundred users, no quota), configurations alternated round by round.
//
//   npm run bench:replicas               full run (3 rounds of 10 s); rewrites its section
//   npm run bench:replicas -- --quick    smoke run (1 round of 2 s), prints only
//
// Options: --rounds N, --seconds N, --no-write
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startPostgres } from '../test/helpers/postgres.js';
import { benchKeys, log, median, startNode, stop, writeSection } from './common.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
});
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const SECONDS = Number(values.seconds ?? (quick ? 2 : 10));
const CONNECTIONS = 48;
const WRITE = !quick && values['no-write'] !== true;

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-replicas-'));
const keys = await benchKeys(work);
log('PostgreSQL…');
const postgres = await startPostgres();
const database = await postgres.freshDatabase();

/** One issuer app process with its records in `db` (a postgres:// URL or a SQLite file). */
function startIssuer(db: string, tag: string) {
  return startNode(
    [
      '--import',
      'tsx',
      'bench/issuer-app.ts',
      '--mode',
      'valet',
      '--storage',
      'http://127.0.0.1:9',
      '--key',
      keys.keyFile,
      '--secret',
      keys.secretFile,
      '--db',
      db,
    ],
    path.join(work, `issuer-${tag}.log`),
  );
}

const pgReplicas = [];
for (let i = 0; i < 3; i++) pgReplicas.push(await startIssuer(database, `pg-${i}`));
const sqlite = await startIssuer(path.join(work, 'issuer.sqlite'), 'sqlite');

let seq = 0;
/** Mints for SECONDS at CONNECTIONS connections spread over `urls`; keys/s and the worst p99. */
async function load(urls: string[], name: string): Promise<{ rps: number; p99: number }> {
  const results = await Promise.all(
    urls.map(
      (url) =>
        new Promise<autocannon.Result>((resolve, reject) => {
          autocannon(
            {
              url: `${url}/v1/keys`,
              connections: CONNECTIONS / urls.length,
              duration: SECONDS,
              requests: [
                {
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  // A hundred users, each mint a new object.
                  setupRequest: (req) => {
                    seq++;
                    return {
                      ...req,
                      headers: { ...req.headers, authorization: `Bearer user:u${seq % 100}` },
                      body: JSON.stringify({ op: 'put', name: `bench/${name}-${seq}.bin`, size: 4096 }),
                    };
                  },
                },
              ],
            },
            (error, res) => (error ? reject(error) : resolve(res)),
          );
        }),
    ),
  );
  const bad = results.reduce((n, r) => n + r.non2xx + r.errors, 0);
  if (bad > 0) throw new Error(`${name}: ${bad} requests failed`);
  return {
    rps: results.reduce((sum, r) => sum + r.requests.average, 0),
    p99: Math.max(...results.map((r) => r.latency.p99)),
  };
}

const configs = {
  'SQLite, 1 replica': [sqlite.url],
  'PostgreSQL, 1 replica': [pgReplicas[0]?.url as string],
  'PostgreSQL, 2 replicas': pgReplicas.slice(0, 2).map((r) => r.url),
  'PostgreSQL, 3 replicas': pgReplicas.map((r) => r.url),
};
type Config = keyof typeof configs;
const names = Object.keys(configs) as Config[];
const runs = Object.fromEntries(names.map((n) => [n, [] as Array<{ rps: number; p99: number }>])) as Record<
  Config,
  Array<{ rps: number; p99: number }>
>;
log('warm-up…');
for (const name of names) await load(configs[name], 'warmup');
for (let round = 0; round < ROUNDS; round++) {
  // Each round starts with the next configuration.
  const order = names.map((_, i) => names[(i + round) % names.length] as Config);
  for (const name of order) {
    const run = await load(configs[name], `r${round}`);
    runs[name].push(run);
    log(`  round ${round + 1} ${name}: ${Math.round(run.rps)} keys/s, p99 ${run.p99} ms`);
  }
}
for (const r of [...pgReplicas, sqlite]) await stop(r.proc);
await postgres.stop();

const base = median(runs['SQLite, 1 replica'].map((r) => r.rps));
const rows = names.map((name) => {
  const rps = median(runs[name].map((r) => r.rps));
  const p99 = median(runs[name].map((r) => r.p99));
  return `| ${name} | ${Math.round(rps)} | ${p99} | ${(rps / base).toFixed(2)}x |`;
});
const table = [
  '| issuers | keys/s (median) | p99 ms (median) | keys/s vs SQLite |',
  '| --- | ---: | ---: | ---: |',
  ...rows,
].join('\n');
const summary = `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; ${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections, configurations alternated; issuers, PostgreSQL and the load generator share the machine.`;
console.log(`\n${summary}\n\n${table}\n`);
if (WRITE) log(`updated ${await writeSection('replicas-bench', `${summary}\n\n${table}`)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
