import * as fs from 'node:fs/promises';
import { ValetError } from '../../token/errors.js';
import { type JwkSet, publicJwk, TrustedKeys } from '../../token/keys.js';
import { type Command, UsageError } from '../args.js';

export const jwks: Command = {
  name: 'jwks',
  summary: 'print the public JWK set of one or more key files',
  help: `Usage: valet jwks FILE [FILE…] [--json]

Prints the public JWK set ({"keys":[…]}) for the given key files on stdout. Each FILE is a
private key from "valet keygen", a single public JWK, or a JWK set. Private parts are never
printed. To rotate keys, publish the old and the new key together for the overlap window:

  valet jwks new-key.json old-key.json > jwks.json

Options:
  --json       print the set on one line
  -h, --help   show this help`,
  options: { json: { type: 'boolean' } },
  positionals: true,
  async run(values, files) {
    if (files.length === 0) throw new UsageError('give at least one key file');
    const keys = [];
    for (const file of files) {
      let json: unknown;
      try {
        json = JSON.parse(await fs.readFile(file, 'utf8'));
      } catch (cause) {
        throw new ValetError('invalid_options', `${file}: ${(cause as Error).message}`, { cause });
      }
      const entries = isSet(json) ? json.keys : [json];
      for (const entry of entries) keys.push(publicJwk(entry as JwkSet['keys'][number]));
    }
    const set: JwkSet = { keys };
    // Check the result is a set storage would accept (types, unique kids) before printing it.
    await TrustedKeys.fromJwks(set);
    process.stdout.write(`${values.json ? JSON.stringify(set) : JSON.stringify(set, null, 2)}\n`);
    return 0;
  },
};

function isSet(json: unknown): json is { keys: unknown[] } {
  return typeof json === 'object' && json !== null && Array.isArray((json as { keys?: unknown }).keys);
}
