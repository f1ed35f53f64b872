// A `valet issuer --config` file for tests: valid as written, edited by each test as it needs.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { keyFiles, testKey } from './keys.js';

/** A valid config in a folder of its own, with its key and secret files; `change` edits it. */
export async function configFile(
  change: (config: Record<string, unknown>) => void = () => {},
): Promise<string> {
  const key = await testKey();
  const { dir, keyFile } = await keyFiles([key]);
  await writeFile(path.join(dir, 'storage.secret'), randomBytes(32).toString('base64url'), { mode: 0o600 });
  const config: Record<string, unknown> = {
    port: 0,
    storageUrl: 'http://127.0.0.1:9',
    signingKeys: [path.basename(keyFile(key))],
    storageSecretFile: 'storage.secret',
    database: ':memory:',
    oidc: { issuer: 'https://id.example', audience: 'urn:valet', algorithms: ['ES256'] },
    rules: { read: { op: 'get', prefix: 'users/{subject}/' } },
    logLevel: 'warn',
  };
  change(config);
  const file = path.join(dir, 'issuer.json');
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}
