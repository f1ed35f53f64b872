// The object stores `npm run bench:peers` compares, each started fresh as its users run it, each
// giving a ready URL (with its key, SAS or presigned query) for a PUT or GET of one object.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { publicJwk, type SigningKey } from '../../src/token/keys.js';
import { mintValetKey } from '../../src/token/mint.js';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../../test/helpers/azurite.js';
import { cephBucket, startCeph } from '../../test/helpers/ceph.js';
import { freePort, startNode, stop, stopAtExit } from '../common.js';

/** A request ready to send: URL and the headers the store needs (not counting Content-Length). */
export interface Ready {
  url: string;
  headers: Record<string, string>;
}

/** One running object store. */
export interface StorageSystem {
  name: string;
  /** What it is, for the table's legend. */
  label: string;
  /** The processes whose CPU and memory count as the store's. */
  pids(): number[];
  put(object: string, size: number): Promise<Ready>;
  get(object: string): Promise<Ready>;
  /** Deletes an object (untimed: keeps disks and Ceph's memstore from filling up). */
  remove(object: string): Promise<void>;
  stop(): Promise<void>;
}

/** Sends a DELETE; a 2xx or 404 is fine. */
async function deleteAt(ready: Ready): Promise<void> {
  const res = await fetch(ready.url, { method: 'DELETE', headers: ready.headers });
  await res.arrayBuffer();
  if (!res.ok && res.status !== 404) throw new Error(`DELETE answered ${res.status}`);
}

export type SystemName = 'valet' | 'plain' | 'plain-verify' | 'plain-atomic' | 'nginx' | 'azurite' | 'ceph';
/** The systems of a full run ('plain-atomic' runs only when asked for with --systems). */
export const SYSTEM_NAMES: SystemName[] = ['valet', 'plain', 'plain-verify', 'nginx', 'azurite', 'ceph'];

export async function startSystem(
  name: SystemName,
  work: string,
  signing: SigningKey,
): Promise<StorageSystem> {
  const dir = path.join(work, `${name}-${Date.now().toString(36)}`);
  await mkdir(dir, { recursive: true });
  switch (name) {
    case 'valet':
      return startValet(dir, signing);
    case 'plain':
      return startPlain(dir);
    case 'plain-verify':
      return startPlainVerify(dir, signing);
    case 'plain-atomic':
      return startPlainVerify(dir, signing, true);
    case 'nginx':
      return startNginx(dir);
    case 'azurite':
      return startAzuriteSystem();
    case 'ceph':
      return startCephSystem();
  }
}

function byPid(proc: ChildProcess): () => number[] {
  return () => (proc.pid === undefined ? [] : [proc.pid]);
}

async function startValet(dir: string, signing: SigningKey): Promise<StorageSystem> {
  const jwksFile = path.join(dir, 'jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: [publicJwk(signing.jwk)] }));
  const { proc, url } = await startNode(
    [
      'bin/valet.js',
      'storage',
      '--data',
      path.join(dir, 'data'),
      '--jwks',
      jwksFile,
      '--port',
      '0',
      // Extra flags for experiments, such as --no-journal (recorded in docs/benchmarks.md when used).
      ...(process.env.VALET_BENCH_STORAGE_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    path.join(dir, 'valet.log'),
  );
  const mint = async (op: 'put' | 'get', object: string, maxSize?: number): Promise<Ready> => ({
    url: `${url}/o/${object}?vk=${await mintValetKey(signing, { op, object, subject: 'bench', ttl: 3600, ...(maxSize !== undefined && { maxSize }) })}`,
    headers: op === 'put' ? { 'content-type': 'application/octet-stream' } : ({} as Record<string, string>),
  });
  return {
    name: 'valet',
    label: 'Valet storage (`valet storage`, logs at info to a file, a fresh valet key per request)',
    pids: byPid(proc),
    put: (object, size) => mint('put', object, size),
    get: (object) => mint('get', object),
    remove: async (object) => {
      const token = await mintValetKey(signing, { op: 'delete', object, subject: 'bench', ttl: 3600 });
      await deleteAt({ url: `${url}/o/${object}?vk=${token}`, headers: {} });
    },
    stop: () => stop(proc),
  };
}

async function startPlain(dir: string): Promise<StorageSystem> {
  const { proc, url } = await startNode(
    ['--import', 'tsx', 'bench/baseline-server.ts', path.join(dir, 'data')],
    path.join(dir, 'plain.log'),
  );
  const ready = async (object: string) => ({ url: `${url}/o/${object}`, headers: {} });
  return {
    remove: async (object) => deleteAt(await ready(object)),
    name: 'plain',
    label: 'plain `node:http` + fsync (`bench/baseline-server.ts`: no checks, fsyncs each PUT)',
    pids: byPid(proc),
    put: ready,
    get: ready,
    stop: () => stop(proc),
  };
}

/**
 * "plain + verify": the plain server that also checks each request's valet key with one bare
 * Ed25519 crypto.verify (no claims), so Valet's per-request cost can be told from the signature's.
 */
async function startPlainVerify(dir: string, signing: SigningKey, atomic = false): Promise<StorageSystem> {
  const jwksFile = path.join(dir, 'jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: [publicJwk(signing.jwk)] }));
  const name = atomic ? 'plain-atomic' : 'plain-verify';
  const { proc, url } = await startNode(
    [
      '--import',
      'tsx',
      'bench/baseline-server.ts',
      path.join(dir, 'data'),
      '--verify',
      jwksFile,
      ...(atomic ? ['--atomic'] : []),
    ],
    path.join(dir, `${name}.log`),
  );
  const ready = async (op: 'put' | 'get' | 'delete', object: string): Promise<Ready> => ({
    url: `${url}/o/${object}?vk=${await mintValetKey(signing, { op, object, subject: 'bench', ttl: 3600 })}`,
    headers: {},
  });
  return {
    name,
    label: atomic
      ? 'plain + verify + atomic replace (plain + verify, each PUT into a new file, fsynced, renamed over the object)'
      : 'plain + verify (the plain server, and one bare Ed25519 `crypto.verify` of a fresh valet key per request)',
    pids: byPid(proc),
    put: (object) => ready('put', object),
    get: (object) => ready('get', object),
    remove: async (object) => deleteAt(await ready('delete', object)),
    stop: () => stop(proc),
  };
}

/** nginx from Debian (`nginx-light`) with its WebDAV module: PUT and GET of files, no checks. */
async function startNginx(dir: string): Promise<StorageSystem> {
  const binary = '/usr/sbin/nginx';
  if (!existsSync(binary)) {
    throw new Error(
      'nginx is not installed: apt-get install -y nginx-light (bench:peers compares against it)',
    );
  }
  const port = await freePort();
  await mkdir(path.join(dir, 'root'), { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `user root;
worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/root;
    dav_methods PUT DELETE;
    create_full_put_path on;
  }
}
`,
  );
  const proc = spawn(binary, ['-c', conf, '-p', dir], { stdio: 'ignore' });
  // Its master stops its workers on SIGTERM; killed, it would leave them running.
  stopAtExit(proc, 'SIGTERM');
  await waitForPort(port, proc);
  const url = `http://127.0.0.1:${port}`;
  const ready = async (object: string) => ({ url: `${url}/${object}`, headers: {} });
  return {
    remove: async (object) => deleteAt(await ready(object)),
    name: 'nginx',
    label: 'nginx WebDAV (Debian `nginx-light`, `dav_methods PUT`, 2 workers, no fsync, no checks)',
    pids: () => childPids(proc.pid),
    put: ready,
    get: ready,
    stop: () => stop(proc),
  };
}

async function startAzuriteSystem(): Promise<StorageSystem> {
  const azurite = await startAzurite();
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY);
  const service = new BlobServiceClient(azurite.endpoint, credential);
  await service.getContainerClient('bench').createIfNotExists();
  const sas = (object: string, permissions: string) => {
    const query = generateBlobSASQueryParameters(
      {
        containerName: 'bench',
        blobName: object,
        permissions: BlobSASPermissions.parse(permissions),
        expiresOn: new Date(Date.now() + 3600_000),
      },
      credential,
    ).toString();
    return `${azurite.endpoint}/bench/${object}?${query}`;
  };
  return {
    name: 'azurite',
    label: 'Azurite (npm `azurite`, blobs on disk, a fresh SAS per request)',
    pids: () => [azurite.pid],
    put: async (object) => ({
      url: sas(object, 'cw'),
      headers: { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'application/octet-stream' },
    }),
    get: async (object) => ({ url: sas(object, 'r'), headers: {} }),
    remove: (object) => deleteAt({ url: sas(object, 'd'), headers: {} }),
    stop: () => azurite.stop(),
  };
}

async function startCephSystem(): Promise<StorageSystem> {
  // Room in RAM for the 1 GiB object and the 4 KiB ones (each deleted object is freed at once).
  process.env.MEMSTORE_BYTES ??= String(8 * 2 ** 30);
  const ceph = await startCeph();
  const s3 = await cephBucket(ceph, 'bench');
  const presign = (command: PutObjectCommand | GetObjectCommand) =>
    getSignedUrl(s3.client, command, { expiresIn: 3600 });
  return {
    name: 'ceph',
    label: 'Ceph RGW (Debian `radosgw`, OSD on memstore: objects in RAM, a fresh presigned URL per request)',
    pids: () => cephPids(ceph.dir),
    put: async (object, size) => ({
      url: await presign(new PutObjectCommand({ Bucket: 'bench', Key: object, ContentLength: size })),
      headers: {},
    }),
    get: async (object) => ({
      url: await presign(new GetObjectCommand({ Bucket: 'bench', Key: object })),
      headers: {},
    }),
    remove: async (object) => {
      await s3.delete(object);
      freeCephMemory(ceph.dir);
    },
    stop: () => ceph.stop(),
  };
}

/**
 * Frees a deleted object's RAM now (untimed): RGW hands deleted data to its garbage collector,
 * which frees it hours later: until then the memstore OSD keeps it in RAM. Without this the OSD
 * grew to 18 GB over a full run, taking the page cache the other systems use.
 */
function freeCephMemory(dir: string): void {
  const conf = ['-c', path.join(dir, 'ceph.conf')];
  execFileSync('radosgw-admin', [...conf, 'gc', 'process', '--include-all'], { stdio: 'ignore' });
}

/** The ceph-mon, ceph-osd and radosgw processes of one test cluster. */
function cephPids(dir: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', dir], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process and its children (nginx's master and workers). */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
    return [pid, ...children];
  } catch {
    return [pid];
  }
}

async function waitForPort(port: number, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}`);
    const up = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('nginx did not start');
}
