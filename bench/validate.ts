// Validate before publish: the time from "upload done" (storage has it, pending) to "published",
// for a 4 KiB and a 1 GiB object, with each validator (the true type, ClamAV, an app hook that
// reads every byte) and with none; and the peak memory of the issuer process that scans 1 GiB.
// Baseline in the same run, alternated: one plain read of the same object from storage (a GET
// with a read key, streamed and discarded), the least any validator that reads it all can take.
// Debian's clamd runs here with a one-line signature file (the EICAR test file's).
//
//   npm run bench:validate               full run (3 rounds); rewrites its section
//   npm run bench:validate -- --quick    smoke run (1 round, 64 MiB instead of 1 GiB), prints only
//
// Options: --rounds N, --no-write
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '../src/client/client.js';
import { openFile } from '../src/client/node.js';
import { startClamd } from '../test/helpers/clamd.js';
import {
  benchKeys,
  freePort,
  log,
  median,
  startNode,
  startStorageFor,
  stop,
  writeSection,
} from './common.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, rounds: { type: 'string' }, 'no-write': { type: 'boolean' } },
});
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const WRITE = !quick && values['no-write'] !== true;
const MiB = 2 ** 20;
const BIG = quick ? 64 * MiB : 1024 * MiB;
const VALIDATORS = ['none', 'type', 'clamav', 'hook'] as const;
type Validator = (typeof VALIDATORS)[number];

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-validate-'));
log('clamd…');
const clamd = await startClamd(undefined);
const keys = await benchKeys(work);
const appPort = await freePort();
const storage = await startStorageFor(work, keys, appPort, 'validate');
const app = await startNode(
  [
    '--import',
    'tsx',
    'bench/validate-app.ts',
    '--storage',
    storage.url,
    '--key',
    keys.keyFile,
    '--secret',
    keys.secretFile,
    '--db',
    path.join(work, 'issuer.sqlite'),
    '--clamd',
    clamd.address,
  ],
  path.join(work, 'app.log'),
  { APP_PORT: String(appPort) },
);
const client = createClient({ issuer: app.url, getToken: () => 'user:alice', retries: 20, retryDelay: 100 });
await client.upload(new Blob(['warm-up']), { name: 'warm-up.txt', rule: 'none', contentType: 'text/plain' });

/** A file of `size` bytes that repeats a 4 MiB pattern (no signature file-type knows). */
async function patternFile(file: string, size: number): Promise<void> {
  const block = Buffer.alloc(4 * MiB);
  for (let i = 0; i < block.length; i++) block[i] = 0x20 + ((i * 31 + (i >> 12)) % 90);
  const out = createWriteStream(file);
  for (let written = 0; written < size; written += block.length) {
    if (!out.write(block.subarray(0, Math.min(block.length, size - written))))
      await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}
const small = path.join(work, 'small.txt');
const big = path.join(work, 'big.txt');
await patternFile(small, 4096);
await patternFile(big, BIG);
const memoryBefore = Number(await (await fetch(`${app.url}/memory`)).text());

/** Uploads `file` under `validator`'s rule; ms from "stored, pending" to "published". */
async function validated(validator: Validator, file: string, name: string): Promise<number> {
  const stored = await client.upload(await openFile(file, { type: 'text/plain' }), {
    name,
    rule: validator,
    awaitValidation: false,
  });
  const done = performance.now();
  const verdict = stored.verdict ? await stored.verdict : { status: 'published' };
  if (verdict.status !== 'published') throw new Error(`${validator}: ${JSON.stringify(verdict)}`);
  return performance.now() - done;
}

/** ms to read `object` once from storage with a read key (streamed, discarded). */
async function plainRead(object: string): Promise<number> {
  const { url } = await client.readUrl(object);
  const started = performance.now();
  const response = await fetch(url);
  for await (const _ of response.body as unknown as AsyncIterable<Uint8Array>);
  return performance.now() - started;
}

const sizes = [
  { label: '4 KiB', file: small },
  { label: quick ? '64 MiB' : '1 GiB', file: big },
] as const;
const times: Record<string, number[]> = {};
const record = (key: string, ms: number) => {
  times[key] = [...(times[key] ?? []), ms];
};
log('warm-up…');
for (const validator of VALIDATORS) await validated(validator, small, 'warm-up.txt');
for (let round = 0; round < ROUNDS; round++) {
  const order = VALIDATORS.map((_, i) => VALIDATORS[(i + round) % VALIDATORS.length] as Validator);
  for (const size of sizes) {
    for (const validator of order) {
      const ms = await validated(validator, size.file, `${size.label.replace(' ', '')}.txt`);
      record(`${size.label} ${validator}`, ms);
      log(`  round ${round + 1} ${size.label} ${validator}: ${ms.toFixed(1)} ms`);
    }
    const read = await plainRead(`none/alice/${size.label.replace(' ', '')}.txt`);
    record(`${size.label} read`, read);
    log(`  round ${round + 1} ${size.label} plain read: ${read.toFixed(1)} ms`);
  }
}
const memoryAfter = Number(await (await fetch(`${app.url}/memory`)).text());
await stop(app.proc);
await stop(storage.proc);
await clamd.stop();

const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
const rows: string[] = [];
for (const size of sizes) {
  const read = median(times[`${size.label} read`] ?? []);
  for (const validator of VALIDATORS) {
    const xs = times[`${size.label} ${validator}`] ?? [];
    const m = median(xs);
    // Without a validator there is nothing to wait for: no rate, no ratio.
    const none = validator === 'none';
    const rate = size.file === big && !none ? `${(BIG / MiB / (m / 1000)).toFixed(0)} MiB/s` : '';
    const ratio = none ? '' : `${(m / read).toFixed(2)}x`;
    rows.push(`| ${size.label} | ${validator} | ${m.toFixed(1)} | ${spread(xs)} | ${rate} | ${ratio} |`);
  }
  rows.push(
    `| ${size.label} | (plain read, baseline) | ${read.toFixed(1)} | ${spread(times[`${size.label} read`] ?? [])} | | 1.00x |`,
  );
}
const table = [
  '| object | validator | ms, upload done → published (median) | spread (min–max) | rate | vs one plain read |',
  '| --- | --- | ---: | ---: | ---: | ---: |',
  ...rows,
].join('\n');
const memory = `Peak resident memory of the issuer process: ${Math.round(memoryBefore / MiB)} MiB before the runs, ${Math.round(memoryAfter / MiB)} MiB after every ${sizes[1].label} validation (ClamAV and the hook stream; the type check reads 64 KiB).`;
const summary = `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; ${ROUNDS} rounds, validators alternated (each round starts with the next); storage, the issuer, clamd and the client share the machine.`;
console.log(`\n${summary}\n\n${table}\n\n${memory}\n`);
if (WRITE) log(`updated ${await writeSection('validate-bench', `${summary}\n\n${table}\n\n${memory}`)}`);
const appLog = await readFile(path.join(work, 'app.log'), 'utf8');
if (appLog.trim() !== '') log(`the issuer logged warnings:\n${appLog}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
