import { type CheckResult, notOk, ok } from '../../wire/readiness.js';
import type { IssuerCore } from '../core.js';
import { pingClamd } from '../validation/clamav.js';

/**
 * The `validation` readiness check of an issuer whose rules validate uploads: degraded when an
 * upload has waited longer than `validation.stuckAfter` for its verdict, or clamd does not answer
 * (uploads that need a scan wait; nothing is published unscanned). Degraded, not failing: keys are
 * still minted and uploads taken, their verdicts come once the cause is fixed.
 */
export async function validationHealth(core: IssuerCore): Promise<CheckResult> {
  const queue = core.records.validations;
  if (!queue) return ok();
  const backlog = await queue.backlog();
  const figures = { pending: backlog.pending, retrying: backlog.retrying };
  const clamd = core.options.validation?.clamd;
  const scans = [...core.validators.values()].some((list) => list.some((v) => v.name === 'clamav'));
  if (clamd !== undefined && scans && !(await pingClamd(clamd))) {
    return notOk(
      'degraded',
      `clamd at ${clamd} does not answer: uploads that need a virus scan wait for it`,
      figures,
    );
  }
  const stuckAfter = core.options.validation?.stuckAfter ?? 600;
  const waited = backlog.oldestCreatedAt === undefined ? 0 : (core.now() - backlog.oldestCreatedAt) / 1000;
  if (waited > stuckAfter) {
    return notOk(
      'degraded',
      `${backlog.pending} upload(s) wait for their verdict, the oldest for ${Math.round(waited / 60)} min ` +
        '(a validator keeps failing: the issuer log says why)',
      figures,
    );
  }
  return ok(figures);
}
