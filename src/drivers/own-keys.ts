import type { MintOptions } from '../token/mint.js';
import type { DriverContext } from './types.js';

/**
 * What a key for the issuer's own request to a store says (see {@link DriverContext.issuerKey}):
 * a minute long; a deletion or a publish single-use; a read may read a held version (the issuer's
 * validators read uploads before anyone else may).
 */
export function ownKeyOptions(
  op: Parameters<DriverContext['issuerKey']>[0],
  object: string,
  subject: string,
  version: string | undefined,
): MintOptions {
  return {
    op,
    object,
    subject,
    ttl: 60,
    once: op === 'delete' || op === 'publish',
    ...((op === 'get' || op === 'head') && { held: true }),
    ...(op === 'publish' && version !== undefined && { version }),
  };
}
