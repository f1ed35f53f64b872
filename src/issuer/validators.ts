import type { StorageDriver } from '../drivers/types.js';
import { ValetError } from '../token/errors.js';
import type { RecordStore } from './records/records.js';
import type { Rule } from './rules.js';
import { clamavValidator } from './validation/clamav.js';
import type { ValidationOptions } from './validation/options.js';
import { trueType } from './validation/true-type.js';
import type { Validator } from './validation/validators.js';

/** The validators of each rule that validates, ready to run (checked when the issuer is created). */
export type RuleValidators = ReadonlyMap<string, readonly Validator[]>;

/**
 * The validators of every rule that says `validate`, checked against what the issuer has: a
 * store the driver can read objects from, a record store with a validation queue, and clamd's
 * address for a rule that lists `'clamav'`. Every problem is one `invalid_options`.
 */
export function ruleValidators(
  rules: Readonly<Record<string, Rule>>,
  options: ValidationOptions | undefined,
  driver: StorageDriver,
  records: RecordStore,
): RuleValidators {
  const out = new Map<string, Validator[]>();
  const validating = Object.entries(rules).filter(([, rule]) => rule.validate !== undefined);
  if (validating.length === 0) return out;
  const names = validating.map(([name]) => `"${name}"`).join(', ');
  if (!driver.read) {
    throw new ValetError(
      'invalid_options',
      `rules ${names} validate uploads, but the ${driver.name} driver cannot read objects (it has no read())`,
    );
  }
  if (!records.validations) {
    throw new ValetError(
      'invalid_options',
      `rules ${names} validate uploads, but the record store keeps no validation queue (it has no validations)`,
    );
  }
  for (const [name, rule] of validating) {
    let hooks = 0;
    const validators = (rule.validate ?? []).map((spec): Validator => {
      if (spec === 'type') return trueType;
      if (spec === 'clamav') {
        if (options?.clamd === undefined) {
          throw new ValetError(
            'invalid_options',
            `rule "${name}" scans uploads with ClamAV: set validation.clamd to clamd's HOST:PORT or socket path`,
          );
        }
        try {
          return clamavValidator({ address: options.clamd });
        } catch (error) {
          throw new ValetError('invalid_options', `validation.clamd: ${(error as Error).message}`);
        }
      }
      hooks++;
      return { name: hooks === 1 ? 'hook' : `hook:${hooks}`, check: spec };
    });
    out.set(name, validators);
  }
  return out;
}
