import { z } from 'zod';
import type { SameKeys } from '../../token/same-keys.js';

/** How uploads whose rule says `validate` are checked (the issuer's `validation` option). */
export interface ValidationOptions {
  /**
   * Where clamd listens, for rules that list `'clamav'`: `HOST:PORT` or an absolute Unix socket
   * path (Debian's `clamav-daemon`: `/run/clamav/clamd.ctl`).
   */
  clamd?: string;
  /** Validations one issuer runs at once. Default 2. */
  concurrency?: number;
  /** Longest one validator may take before the run counts as failed (and is retried), seconds. Default 600. */
  timeout?: number;
  /**
   * Readiness reports `validation` degraded once an upload has waited this long for its verdict
   * (a scanner down, the queue stuck), seconds. Default 600.
   */
  stuckAfter?: number;
}

/** The schema of {@link ValidationOptions}. */
export const validationOptionsSchema = z
  .object({
    clamd: z.string().min(1).optional(),
    concurrency: z.number().int().min(1).max(64).optional(),
    timeout: z.number().int().min(1).optional(),
    stuckAfter: z.number().int().min(1).optional(),
  })
  .strict();

const keysMatch: SameKeys<ValidationOptions, z.input<typeof validationOptionsSchema>> = true;
void keysMatch;
