// Azure benchmark: a 256 MiB upload and download through Azurite with Valet keys (the client
// asks the issuer, which signs a SAS with the Azure driver, then verifies the upload) against the
// same transfers with SAS URLs made directly with the Azure SDK. Alternating, medians, ratios.
//
//   npm run bench:azure               full run; rewrites its section of docs/benchmarks.md
//   npm run bench:azure -- --quick    smoke run (32 MiB, 1 round), prints only
//
// Options: --rounds N (3), --mib N (256), --no-write
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BlobSASPermissions } from '@azure/storage-blob';
import { createClient } from '../src/client/client.js';
import { toNodeListener } from '../src/issuer/http/node.js';
import { createIssuer } from '../src/issuer/issuer.js';
import { generateSigningJwk } from '../src/token/keys.js';
import { azuriteContainer, startAzurite } from '../test/helpers/azurite.js';
import { log, median, writeSection } from './common.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    mib: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
});
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const SIZE = Number(values.mib ?? (quick ? 32 : 256)) * 2 ** 20;
const WRITE = !quick && values['no-write'] !== true;

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-azure-'));
const file = path.join(work, 'object.bin');
{
  const chunk = Buffer.alloc(2 ** 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  const out = createWriteStream(file);
  for (let i = 0; i < SIZE / chunk.length; i++) {
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

log('starting Azurite…');
const azurite = await startAzurite();
const azure = await azuriteContainer(azurite, 'bench');
const issuer = await createIssuer({
  signingKeys: [await generateSigningJwk()],
  driver: azure,
  storageSecret: 's'.repeat(43),
  authenticate: () => 'bench',
  database: path.join(work, 'issuer.sqlite'),
  rules: {
    upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 2 ** 40, accept: ['once', 'revocation'] },
    read: { op: 'get', prefix: 'users/{subject}/', accept: ['revocation'] },
  },
});
const server = http.createServer(toNodeListener(issuer));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const client = createClient({
  issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  getToken: () => 'x',
});

/** Reads a body to the end, counting bytes (the same loop for both sides). */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<number> {
  let n = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) n += chunk.byteLength;
  return n;
}

async function valetRun(i: number): Promise<{ put: number; get: number }> {
  const name = `valet-${i}.bin`;
  let t = performance.now();
  await client.upload(await openAsBlob(file), { name, resumable: false });
  const put = (performance.now() - t) / 1000;
  t = performance.now();
  const download = await client.download(`users/bench/${name}`);
  const got = await drain(download.body);
  if (got !== SIZE) throw new Error(`downloaded ${got} bytes`);
  const get = (performance.now() - t) / 1000;
  await azure.delete(`users/bench/${name}`); // keep the emulator's disk use flat (untimed)
  return { put, get };
}

async function directRun(i: number): Promise<{ put: number; get: number }> {
  const blob = azure.container.getBlockBlobClient(`users/bench/direct-${i}.bin`);
  const sas = (permissions: string) =>
    blob.generateSasUrl({
      permissions: BlobSASPermissions.parse(permissions),
      expiresOn: new Date(Date.now() + 300_000),
      version: '2025-11-05',
    });
  let t = performance.now();
  const put = await fetch(await sas('cw'), {
    method: 'PUT',
    body: (await openAsBlob(file)).stream(),
    headers: { 'content-length': String(SIZE), 'x-ms-blob-type': 'BlockBlob' },
    duplex: 'half',
  } as RequestInit);
  await put.body?.cancel();
  if (!put.ok) throw new Error(`direct PUT ${put.status}`);
  const putSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const got = await drain((await fetch(await sas('r'))).body);
  if (got !== SIZE) throw new Error(`downloaded ${got} bytes`);
  const get = (performance.now() - t) / 1000;
  await blob.delete();
  return { put: putSeconds, get };
}

const runs: Record<'valet' | 'direct', Array<{ put: number; get: number }>> = { valet: [], direct: [] };
await valetRun(-1); // warm-up (first bucket writes, JIT)
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? (['valet', 'direct'] as const) : (['direct', 'valet'] as const);
  for (const who of order) {
    const run = who === 'valet' ? await valetRun(round) : await directRun(round);
    runs[who].push(run);
    log(
      `  round ${round + 1} ${who}: PUT ${(SIZE / 2 ** 20 / run.put).toFixed(1)} MiB/s, GET ${(SIZE / 2 ** 20 / run.get).toFixed(1)} MiB/s`,
    );
  }
}
server.close();
await issuer.close();
await azurite.stop();

const mibps = (who: 'valet' | 'direct', op: 'put' | 'get') =>
  median(runs[who].map((r) => SIZE / 2 ** 20 / r[op]));
const rows = (['put', 'get'] as const).map((op) => {
  const v = mibps('valet', op);
  const d = mibps('direct', op);
  const ratio = v / d;
  return `| ${SIZE / 2 ** 20} MiB ${op.toUpperCase()} MiB/s | ${v.toFixed(1)} | ${d.toFixed(1)} | ${ratio.toFixed(2)}x | ≥ 0.95 ${ratio >= 0.95 ? '(met)' : '(**not met**)'} |`;
});
const table = [
  '| metric (median) | Valet keys | direct SAS | ratio | target |',
  '| --- | ---: | ---: | ---: | --- |',
  ...rows,
].join('\n');
const summary = `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, Azurite 3.35 (blob service, files on local disk); ${ROUNDS} rounds.`;
console.log(`\n${summary}\n\n${table}\n`);
if (WRITE) log(`updated ${await writeSection('azure-bench', `${summary}\n\n${table}`)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
