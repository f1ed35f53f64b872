// `valet issuer --config`: the mistakes people make in a config file, each answered with what is
// wrong, where, and the fix (one line, status 2; a port in use, status 1).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { keyFiles, testKey } from './helpers/keys.js';
import { runValet } from './helpers/storage.js';

/** A valid config in a folder of its own, with its key and secret files; `change` edits it. */
async function configFile(change: (config: Record<string, unknown>) => void = () => {}): Promise<string> {
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

async function busyPort(t: TestContext): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

describe('valet issuer --config mistakes', () => {
  it('names the config file\'s own "port" when the port is in use (it has no --port flag)', async (t) => {
    const port = await busyPort(t);
    const file = await configFile((c) => {
      c.port = port;
      c.host = '127.0.0.1';
    });
    const result = await runValet(['issuer', '--config', file]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      `valet issuer: port ${port} on 127.0.0.1 is already in use (is another valet or server running there? ` +
        'choose another port with "port" in the config file)',
    );
  });
});
