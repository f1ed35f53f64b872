import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { S3Driver, type S3DriverOptions } from '../../src/drivers/s3/index.js';
import { freePort, ROOT } from './storage.js';

const run = promisify(execFile);
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'ceph');

/** A running single-node Ceph cluster with radosgw (S3). */
export interface Ceph {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  stop(): Promise<void>;
}

// Clusters are stopped by PID when the test process ends, whatever happened.
const running = new Set<string>();
process.on('exit', () => {
  for (const dir of running) spawnSync(path.join(FIXTURE, 'stop.sh'), [dir]);
});

/**
 * Starts Ceph (monitor, OSD on memstore, radosgw) on free ports from Debian's packages. Fails
 * loudly if it cannot: S3 tests are never skipped. Ceph 16 now and then loses a race at start
 * (the OSD asks the monitor before it has the cluster's fsid, "wrong fsid", and exits): a failed
 * start is retried twice, each time with a fresh directory and fresh ports.
 */
export async function startCeph(): Promise<Ceph> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce();
    } catch (error) {
      failures.push(`attempt ${attempt}: ${(error as Error).message}`);
    }
  }
  throw new Error(failures.join('\n'));
}

async function startOnce(): Promise<Ceph> {
  const dir = path.join(await mkdtemp(path.join(tmpdir(), 'valet-ceph-')), 'cluster');
  const env = { ...process.env, RGW_PORT: String(await freePort()), MON_PORT: String(await freePort()) };
  running.add(dir);
  let stdout: string;
  try {
    ({ stdout } = await run(path.join(FIXTURE, 'start.sh'), [dir], { env, timeout: 180_000 }));
  } catch (error) {
    await run(path.join(FIXTURE, 'stop.sh'), [dir]).catch(() => {});
    running.delete(dir);
    const detail = error as { stderr?: string; message: string };
    throw new Error(
      `Ceph could not start (are radosgw, ceph-mon and ceph-osd installed?): ${detail.stderr ?? detail.message}`,
    );
  }
  const match = /ENDPOINT=(\S+) AK=(\S+) SK=(\S+)/.exec(stdout);
  if (!match) throw new Error(`Ceph started but printed no endpoint: ${stdout}`);
  return {
    endpoint: match[1] as string,
    accessKeyId: match[2] as string,
    secretAccessKey: match[3] as string,
    dir,
    async stop() {
      await run(path.join(FIXTURE, 'stop.sh'), [dir]);
      running.delete(dir);
    },
  };
}

/** An S3 driver for a bucket of a test cluster (path-style; Ceph 16 keeps no checksums). */
export async function cephBucket(
  ceph: Ceph,
  bucket: string,
  overrides: Partial<S3DriverOptions> = {},
): Promise<S3Driver> {
  const driver = new S3Driver({
    bucket,
    endpoint: ceph.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: ceph.accessKeyId, secretAccessKey: ceph.secretAccessKey },
    checksums: false,
    ...overrides,
  });
  await driver.ensureBucket();
  return driver;
}
