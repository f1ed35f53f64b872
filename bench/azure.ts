// Azure benchmark: a 256 MiB upload and download through Azurite with Valet keys (the client
// asks the issuer, which signs a SAS with the Azure driver, then verifies the upload) against the
// same transfers with SAS URLs made directly with the Azure SDK. Alternating, medians, ratios.
//
//   npm run bench:azure               full run; rewrites its section of docs/benchmarks.md
//   npm run bench:azure -- --quick    smoke run (32 MiB, 1 round), prints only
//
// Options: --rounds N (3), --mib N (256), --no-write
import { openAsBlob } from 'node:fs';
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
import { log, writeSection } from './common.js';
import { alternate, drain, patternFile, type Transfer, transferTable } from './transfer.js';

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
await patternFile(file, SIZE);

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

async function valetRun(i: number): Promise<Transfer> {
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

async function directRun(i: number): Promise<Transfer> {
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

await valetRun(-1); // warm-up (first bucket writes, JIT)
const runs = await alternate(ROUNDS, SIZE, { valet: valetRun, direct: directRun });
server.close();
await issuer.close();
await azurite.stop();

const table = transferTable(runs, SIZE, 'direct SAS');
const summary = `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, Azurite 3.35 (blob service, files on local disk); ${ROUNDS} rounds.`;
console.log(`\n${summary}\n\n${table}\n`);
if (WRITE) log(`updated ${await writeSection('azure-bench', `${summary}\n\n${table}`)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
