import * as fs from 'node:fs/promises';
import { generateSigningJwk } from '../../token/keys.js';
import { type Command, required, UsageError } from '../args.js';
import { printJson } from '../output.js';

export const keygen: Command = {
  name: 'keygen',
  summary: 'write a new private signing key (Ed25519 JWK with a kid)',
  help: `Usage: valet keygen --out FILE [--force] [--json]

Writes a new Ed25519 private signing key as a JWK (with "kid", "alg": "EdDSA") to FILE,
readable by its owner only (mode 0600). Publish its public half with "valet jwks FILE".

Options:
  --out FILE   where to write the private key (required)
  --force      overwrite FILE if it exists (default: refuse)
  --json       print {"kid","file"}
  -h, --help   show this help`,
  options: { out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
  async run(values) {
    const out = required(values, 'out');
    const jwk = await generateSigningJwk();
    try {
      await fs.writeFile(out, `${JSON.stringify(jwk, null, 2)}\n`, {
        mode: 0o600,
        flag: values.force ? 'w' : 'wx',
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new UsageError(`${out} exists; pass --force to replace it`);
      }
      throw error;
    }
    if (values.force) await fs.chmod(out, 0o600);
    if (values.json) printJson({ kid: jwk.kid, file: out });
    else process.stdout.write(`wrote signing key ${jwk.kid} to ${out}\n`);
    return 0;
  },
};
