import type { ValetClient } from '../client/client.js';
import { isValetError } from '../token/errors.js';
import { withHint } from './output.js';

/** How commands name objects, for their help texts. */
export const KEY_HELP = `KEY is the object's full key, as "valet ls" prints it (users/alice/report.pdf); the name
given to "valet upload --name" (report.pdf) works too when just one of your objects has it.`;

/**
 * Runs `op` on the object the command line names: the full key first; if the issuer refuses it
 * (not yours, or none), the one of your objects whose key ends with `/NAME`, when just one does
 * (said on stderr). Otherwise the refusal stands, with a hint at the keys it could have meant.
 */
export async function onObject<T>(
  client: ValetClient,
  given: string,
  op: (key: string) => Promise<T>,
): Promise<{ key: string; value: T }> {
  try {
    return { key: given, value: await op(given) };
  } catch (error) {
    if (!isValetError(error) || !['forbidden', 'not_found', 'invalid_key'].includes(error.code)) throw error;
    const candidates = (await client.list()).map((o) => o.object).filter((key) => key.endsWith(`/${given}`));
    if (candidates.length === 1) {
      const key = candidates[0] as string;
      process.stderr.write(`(${given} is ${key})\n`);
      return { key, value: await op(key) };
    }
    if (candidates.length > 1) {
      const some = candidates.slice(0, 3).join(', ');
      throw withHint(
        error,
        `"${given}" could be ${some}${candidates.length > 3 ? ', …' : ''}: give the full key`,
      );
    }
    throw withHint(error, 'objects are named by their full key, as "valet ls" prints it');
  }
}
