import * as fs from 'node:fs/promises';
import { type Command, required, UsageError } from '../args.js';
import { printJson } from '../output.js';
import { newSecret } from '../secrets.js';

export const secret: Command = {
  name: 'secret',
  summary: 'write a new secret for storage and issuer to share (256 random bits)',
  help: `Usage: valet secret --out FILE

Writes a new shared secret (256 random bits, base64url, one line) to FILE, readable by its owner
only (mode 0600). Storage reads it with "valet storage --secret-file FILE", the issuer with
"storageSecretFile" in its config (or storageSecret: the file's content, in createIssuer). It
signs the completion events and the revocation feed between them. Never overwrites FILE.

Options:
  --out FILE   where to write the secret (required; refused if it exists)
  --json       print {"file"}
  -h, --help   show this help`,
  options: { out: { type: 'string' }, json: { type: 'boolean' } },
  async run(values) {
    const out = required(values, 'out');
    try {
      await fs.writeFile(out, `${newSecret()}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new UsageError(`${out} exists; a secret is never overwritten (remove it first to replace it)`);
      }
      throw error;
    }
    if (values.json) printJson({ file: out });
    else process.stdout.write(`wrote a new storage secret to ${out}\n`);
    return 0;
  },
};
