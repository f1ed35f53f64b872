/**
 * Readiness, as storage and the issuer answer it at `GET /readyz` (declared once here). Each
 * check has a name and a status: `ok`; `degraded`, it serves but an operator should know (the
 * issuer away while keys are served within their own bounds); `failing`, it cannot serve as it
 * should. The answer is `200` unless a check fails, then `503` naming it, so a load balancer
 * takes the instance out and an operator reads why. `/healthz` only says the process is alive.
 */

/** A check's status (see the module comment). */
export type CheckStatus = 'ok' | 'degraded' | 'failing';

/** One check's verdict: its status, the problem in words when not ok, and figures that help. */
export interface CheckResult {
  status: CheckStatus;
  /** What is wrong and, where known, what fixes it. */
  problem?: string;
  [figure: string]: unknown;
}

/** The body of `GET /readyz`. */
export interface ReadinessBody {
  status: 'ready' | 'degraded' | 'unready';
  /** The checks that fail (then the status is 503). */
  failing?: string[];
  /** The checks that are degraded. */
  degraded?: string[];
  checks: Record<string, CheckResult>;
}

/** A named readiness check; a check that throws is failing, with the error's message. */
export interface ReadinessCheck {
  name: string;
  check(): CheckResult | Promise<CheckResult>;
}

/** A check that is ok, with figures. */
export function ok(figures: Record<string, unknown> = {}): CheckResult {
  return { status: 'ok', ...figures };
}

/** A check that is not ok: its status and the problem in words. */
export function notOk(
  status: 'degraded' | 'failing',
  problem: string,
  figures: Record<string, unknown> = {},
): CheckResult {
  return { status, problem, ...figures };
}

/** Runs every check (at once) and makes the answer: its HTTP status and body. */
export async function readiness(
  checks: readonly ReadinessCheck[],
): Promise<{ httpStatus: number; body: ReadinessBody }> {
  const results = await Promise.all(
    checks.map(async ({ name, check }): Promise<[string, CheckResult]> => {
      try {
        return [name, await check()];
      } catch (error) {
        return [name, notOk('failing', error instanceof Error ? error.message : 'the check failed')];
      }
    }),
  );
  const named = (status: CheckStatus) => results.filter(([, r]) => r.status === status).map(([n]) => n);
  const failing = named('failing');
  const degraded = named('degraded');
  return {
    httpStatus: failing.length > 0 ? 503 : 200,
    body: {
      status: failing.length > 0 ? 'unready' : degraded.length > 0 ? 'degraded' : 'ready',
      ...(failing.length > 0 && { failing }),
      ...(degraded.length > 0 && { degraded }),
      checks: Object.fromEntries(results),
    },
  };
}
