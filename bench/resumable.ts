// Resumable upload benchmark: a large file (5 GiB by default) uploaded to Valet storage by the
// client SDK, once as a single PUT and once as a resumable (tus) upload with the default chunk
// size, alternately in one run (needs about 5 x (rounds x 2 + 1) GiB of free disk). Reports throughput, the ratio resumable/PUT (target >= 0.8), and
// the peak RSS of the storage process and of each client process (target < 200 MB each).
//
//   npm run bench:resumable               full run (5 GiB, 2 rounds); rewrites its section of docs/benchmarks.md
//   npm run bench:resumable -- --quick    smoke run (256 MiB, 1 round), prints only
//
// Options: --gib N (5), --rounds N (2), --no-write
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchKeys, log, median, ROOT, startStorageAndApp, stop, writeSection } from './common.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    gib: { type: 'string' },
    rounds: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
});
const quick = values.quick === true;
const SIZE = Math.round(Number(values.gib ?? (quick ? 0.25 : 5)) * 2 ** 30);
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 2));
const WRITE = !quick && values['no-write'] !== true;
const MB = 1e6;
const mib = (n: number) => (n / 2 ** 20).toFixed(0);

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-resumable-'));
const keys = await benchKeys(work);

// The source file: 64 MiB of random bytes, repeated.
const file = path.join(work, 'source.bin');
{
  const block = randomBytes(64 * 2 ** 20);
  const handle = await open(file, 'w');
  for (let written = 0; written < SIZE; written += block.length) {
    await handle.write(block, 0, Math.min(block.length, SIZE - written));
  }
  await handle.close();
}

const { storage, app } = await startStorageAndApp(work, keys, {
  mode: 'valet',
  tag: 'resumable',
  storageLogLevel: 'info',
});

interface Run {
  seconds: number;
  bytes: number;
  resumable: boolean;
  peakRss: number;
}

function runClient(mode: 'put' | 'resumable', name: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/resumable-client.ts',
        '--issuer',
        app.url,
        '--file',
        file,
        '--name',
        name,
        '--mode',
        mode,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    proc.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as Run) : reject(new Error(`client exited ${code}`)),
    );
  });
}

const runs: Record<'put' | 'resumable', Run[]> = { put: [], resumable: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of ['put', 'resumable'] as const) {
    const name = `${mode}-${round}.bin`;
    const run = await runClient(mode, name);
    if (run.bytes !== SIZE || run.resumable !== (mode === 'resumable')) {
      throw new Error(`${mode}: uploaded ${run.bytes} bytes, resumable=${run.resumable}`);
    }
    runs[mode].push(run);
    log(
      `round ${round + 1} ${mode}: ${(SIZE / MB / run.seconds).toFixed(0)} MB/s, client peak RSS ${mib(run.peakRss)} MiB`,
    );
  }
}
const status = await readFile(`/proc/${storage.proc.pid}/status`, 'utf8');
const storageRss = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
await stop(app.proc);
await stop(storage.proc);
await rm(work, { recursive: true, force: true });

const rate = (mode: 'put' | 'resumable') => SIZE / MB / median(runs[mode].map((r) => r.seconds));
const ratio = rate('resumable') / rate('put');
const clientRss = Math.max(...runs.resumable.map((r) => r.peakRss), ...runs.put.map((r) => r.peakRss));
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT MET');
const table = [
  `Command: \`npm run bench:resumable\` (${(SIZE / 2 ** 30).toFixed(2)} GiB file, ${ROUNDS} rounds, alternating; medians). ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version}.`,
  '',
  '| measure | value | target |',
  '| --- | ---: | --- |',
  `| single PUT, client SDK (MB/s) | ${rate('put').toFixed(0)} | baseline |`,
  `| resumable (tus, 64 MiB chunks), client SDK (MB/s) | ${rate('resumable').toFixed(0)} | |`,
  `| ratio resumable / PUT | ${ratio.toFixed(2)}x | >= 0.8x ${verdict(ratio >= 0.8)} |`,
  `| storage peak RSS over the run (MiB) | ${mib(storageRss)} | < 200 MB ${verdict(storageRss < 200e6)} |`,
  `| client peak RSS, largest of all runs (MiB) | ${mib(clientRss)} | < 200 MB ${verdict(clientRss < 200e6)} |`,
].join('\n');
process.stdout.write(`${table}\n`);
if (WRITE) log(`written to ${await writeSection('resumable-bench', table)}`);
