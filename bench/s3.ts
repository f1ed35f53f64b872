// S3 benchmark: a 256 MiB upload and download through Ceph RGW with Valet keys (the client asks
// the issuer, which presigns with the S3 driver, then verifies the upload) against the same
// transfers with presigned URLs made directly with the AWS SDK. Alternating, medians, ratios.
//
//   npm run bench:s3               full run; rewrites its section of docs/benchmarks.md
//   npm run bench:s3 -- --quick    smoke run (32 MiB, 1 round), prints only
//
// Options: --rounds N (3), --mib N (256), --no-write
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createClient } from '../src/client/client.js';
import { toNodeListener } from '../src/issuer/http/node.js';
import { createIssuer } from '../src/issuer/issuer.js';
import { generateSigningJwk } from '../src/token/keys.js';
import { cephBucket, startCeph } from '../test/helpers/ceph.js';
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

const work = await mkdtemp(path.join(os.tmpdir(), 'valet-bench-s3-'));
const file = path.join(work, 'object.bin');
await patternFile(file, SIZE);

log('starting Ceph…');
const ceph = await startCeph();
const s3 = await cephBucket(ceph, 'bench');
const issuer = await createIssuer({
  signingKeys: [await generateSigningJwk()],
  driver: s3,
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
  await s3.delete(`users/bench/${name}`); // memstore holds 2 GiB: keep it empty (untimed)
  return { put, get };
}

async function directRun(i: number): Promise<Transfer> {
  const key = `users/bench/direct-${i}.bin`;
  let t = performance.now();
  const putUrl = await getSignedUrl(
    s3.client,
    new PutObjectCommand({ Bucket: 'bench', Key: key, ContentLength: SIZE }),
    {
      expiresIn: 300,
      signableHeaders: new Set(['content-length']),
    },
  );
  const put = await fetch(putUrl, {
    method: 'PUT',
    body: (await openAsBlob(file)).stream(),
    headers: { 'content-length': String(SIZE) },
    duplex: 'half',
  } as RequestInit);
  await put.body?.cancel();
  if (!put.ok) throw new Error(`direct PUT ${put.status}`);
  const putSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const getUrl = await getSignedUrl(s3.client, new GetObjectCommand({ Bucket: 'bench', Key: key }), {
    expiresIn: 300,
  });
  const got = await drain((await fetch(getUrl)).body);
  if (got !== SIZE) throw new Error(`downloaded ${got} bytes`);
  const get = (performance.now() - t) / 1000;
  await s3.delete(key);
  return { put: putSeconds, get };
}

await valetRun(-1); // warm-up (first bucket writes, JIT)
const runs = await alternate(ROUNDS, SIZE, { valet: valetRun, direct: directRun });
server.close();
await issuer.close();
await ceph.stop();

const table = transferTable(runs, SIZE, 'direct presigned');
const summary = `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, Ceph RGW (single node, memstore); ${ROUNDS} rounds.`;
console.log(`\n${summary}\n\n${table}\n`);
if (WRITE) log(`updated ${await writeSection('s3-bench', `${summary}\n\n${table}`)}`);
await rm(work, { recursive: true, force: true });
process.exit(0);
