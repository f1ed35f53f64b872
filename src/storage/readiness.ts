import { ValetError } from '../token/errors.js';
import type { ConnectionGate } from './connections.js';
import { type Exchange, methodNotAllowed, sendJson } from './exchange.js';
import type { FileStore } from './store.js';

/**
 * Health and readiness. `/healthz` says the process is alive; `/readyz` says whether it can
 * serve, with each check by name, and `503` naming the checks that fail (a load balancer takes
 * the instance out; an operator reads why).
 */

/** One readiness check's verdict: `ok`, or why not in words, with figures where they help. */
export type CheckResult =
  | { ok: true; [detail: string]: unknown }
  | { ok: false; problem: string; [detail: string]: unknown };

/** A named readiness check. */
export interface ReadinessCheck {
  name: string;
  check(): CheckResult | Promise<CheckResult>;
}

/** Answers `/healthz` (alive) and `/readyz` (each check, 503 if one fails). */
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
  const results: Record<string, CheckResult> = {};
  for (const { name, check } of checks) {
    try {
      results[name] = await check();
    } catch (error) {
      results[name] = {
        ok: false,
        problem: error instanceof ValetError ? error.message : 'the check failed',
      };
    }
  }
  const failing = Object.keys(results).filter((name) => !results[name]?.ok);
  sendJson(res, failing.length === 0 ? 200 : 503, {
    status: failing.length === 0 ? 'ready' : 'unready',
    ...(failing.length > 0 && { failing }),
    checks: results,
  });
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

/** What `/readyz` checks: the journal can checkpoint, and connections are below their limit. */
export function storageChecks(store: FileStore, gate: ConnectionGate): ReadinessCheck[] {
  return [
    {
      name: 'journal',
      check: () => {
        const failure = store.journalFailure;
        return failure
          ? {
              ok: false,
              problem: `the journal cannot checkpoint: ${describeErrno(failure)}; small uploads are refused`,
            }
          : { ok: true };
      },
    },
    {
      name: 'connections',
      check: () => {
        const figures = { open: gate.open, limit: gate.limits.total, perAddress: gate.limits.perAddress };
        return gate.open < gate.limits.total
          ? { ok: true, ...figures }
          : { ok: false, problem: `storage is at its limit of ${gate.limits.total} connections`, ...figures };
      },
    },
  ];
}
