import { randomUUID } from 'node:crypto';
import { statfs, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeyResolver } from '../token/keys.js';
import { formatBytes } from '../token/units.js';
import { type CheckResult, notOk, ok, type ReadinessCheck, readiness } from '../wire/readiness.js';
import { type RevocationFeed, SECRET_MISMATCH } from './access/revocations.js';
import type { FileStore } from './disk/store.js';
import type { ConnectionGate } from './http/connections.js';
import { type Exchange, methodNotAllowed, sendJson } from './http/exchange.js';

/**
 * Storage's health and readiness (the answer's shape: wire/readiness.ts). `/healthz`: the process
 * is alive. `/readyz`: the journal checkpoints, connections are below their limit, the disk takes
 * writes with free space above a floor, storage has trusted keys, and the issuer answers its
 * polls with storage's signature accepted. The issuer away is `degraded`, not failing: storage
 * serves keys within their own revocation bounds through an outage of the app, which is the point.
 */

/** Answers `/healthz` (alive) and `/readyz` (each check; 503 if one fails). */
export async function answerHealth(
  ex: Exchange,
  path: string,
  checks: readonly ReadinessCheck[],
): Promise<void> {
  const { req, res } = ex;
  const method = req.method ?? '';
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(res, 'GET, HEAD');
  res.setHeader('Cache-Control', 'no-store');
  if (path === '/healthz') {
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  const { httpStatus, body } = await readiness(checks);
  sendJson(res, httpStatus, body);
}

/** True for the paths {@link answerHealth} serves. */
export function isHealthPath(path: string): boolean {
  return path === '/healthz' || path === '/readyz';
}

/** An errno as words an operator can act on. */
export function describeErrno(error: NodeJS.ErrnoException): string {
  const reason: Record<string, string> = {
    EMFILE: 'no file descriptor left in the process (raise LimitNOFILE / ulimit -n, or lower maxConnections)',
    ENFILE: 'no file descriptor left in the system',
    ENOSPC: 'the disk is full',
    EDQUOT: 'the disk quota is spent',
    EIO: 'the disk reported an I/O error',
    EROFS: 'the file system is read-only',
    EPERM: 'the operation is not permitted on the data directory',
    EACCES: 'permission denied on the data directory',
  };
  return `${(error.code && reason[error.code]) ?? error.message}${error.code ? ` (${error.code})` : ''}`;
}

/** What storage's checks look at. */
export interface StorageParts {
  store: FileStore;
  gate: ConnectionGate;
  keys: KeyResolver;
  feed: RevocationFeed | undefined;
  /** The least free space the data directory's file system must have, bytes (see options). */
  minFreeSpace: number | undefined;
}

/** The checks of `/readyz`. */
export function storageChecks(parts: StorageParts): ReadinessCheck[] {
  const { store, gate, keys, feed } = parts;
  return [
    {
      name: 'journal',
      check: () => {
        const failure = store.journalFailure;
        return failure
          ? notOk(
              'failing',
              `the journal cannot checkpoint: ${describeErrno(failure)}; small uploads are refused`,
            )
          : ok();
      },
    },
    {
      name: 'connections',
      check: () => {
        const figures = { open: gate.open, limit: gate.limits.total, perAddress: gate.limits.perAddress };
        return gate.open < gate.limits.total
          ? ok(figures)
          : notOk('failing', `storage is at its limit of ${gate.limits.total} connections`, figures);
      },
    },
    { name: 'disk', check: () => diskCheck(store, parts.minFreeSpace) },
    {
      name: 'keys',
      check: () => {
        const source = keys as { ready?: boolean; spec?: string };
        return source.ready === false
          ? notOk(
              'failing',
              `storage has no trusted keys yet: ${source.spec} does not answer; every key is refused (503)`,
            )
          : ok();
      },
    },
    ...(feed ? issuerChecks(feed) : []),
  ];
}

/** The issuer link: its revocation list's age, and whether the issuer answers and accepts storage. */
function issuerChecks(feed: RevocationFeed): ReadinessCheck[] {
  return [
    {
      name: 'revocations',
      check: () => {
        const age = feed.age;
        const figures = Number.isFinite(age) ? { ageSeconds: Math.round(age / 1000) } : {};
        if (age <= feed.maxStaleness) return ok(figures);
        return notOk(
          'degraded',
          Number.isFinite(age)
            ? `the revocation list is ${Math.round(age / 1000)} s old: keys without a bound of their own (strict rules) are refused, others are served within their bound`
            : 'storage has no revocation list yet: keys without a bound of their own (strict rules) are refused, others are served within their bound',
          figures,
        );
      },
    },
    {
      name: 'issuer',
      check: () => {
        const failure = feed.failure;
        if (!failure) return ok();
        if (failure.status === 401) return notOk('failing', `storage is misconfigured: ${SECRET_MISMATCH}`);
        // A 5xx is the issuer (or the balancer in front of it) unavailable, not a refusal.
        if (failure.refused && (failure.status ?? 0) < 500) {
          return notOk(
            'failing',
            `the issuer refuses storage's revocation polls (${failure.reason}): is --issuer the issuer's URL with its mount path?`,
          );
        }
        return notOk(
          'degraded',
          `the issuer does not answer or is unavailable (${failure.reason}): keys are served within their own revocation bounds, events wait for it`,
        );
      },
    },
  ];
}

/** Floor of free space when none is set: 5 % of the file system, at most 1 GiB. */
function defaultFloor(total: number): number {
  return Math.min(2 ** 30, Math.floor(total * 0.05));
}

/** The data directory takes a write, and its file system has free space above the floor. */
async function diskCheck(store: FileStore, minFreeSpace: number | undefined): Promise<CheckResult> {
  // A name of its own per probe: checks run concurrently (one per caller of /readyz).
  const probe = path.join(store.tmpDir, `readyz-${process.pid}-${randomUUID()}.probe`);
  try {
    await writeFile(probe, 'ready');
    await unlink(probe);
  } catch (error) {
    return notOk(
      'failing',
      `the data directory does not take writes: ${describeErrno(error as NodeJS.ErrnoException)}`,
    );
  }
  const fs = await statfs(store.dir);
  const free = fs.bavail * fs.bsize;
  const floor = minFreeSpace ?? defaultFloor(fs.blocks * fs.bsize);
  const figures = { freeBytes: free, floorBytes: floor };
  return free >= floor
    ? ok(figures)
    : notOk(
        'failing',
        `${formatBytes(free)} free on the data directory's disk, under the ${formatBytes(floor)} floor: free space or raise the disk`,
        figures,
      );
}
