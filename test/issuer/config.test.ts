// End-to-end: `valet issuer --config` and `valet storage --issuer` as separate processes, with
// callers authenticated by a real OpenID provider.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { configFile } from '../helpers/issuer-config.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider } from '../helpers/oidc.js';
import { freePort, runValet, startValet } from '../helpers/storage.js';
import { eventually } from '../helpers/system.js';

describe('valet issuer --config', () => {
  it('runs the issuer alone against a separate storage', async (t) => {
    const provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
    const key = await testKey();
    const { dir, keyFile } = await keyFiles([key]);
    await writeFile(path.join(dir, 'storage.secret'), randomBytes(32).toString('base64url'), { mode: 0o600 });
    // Storage's port is chosen first, so that the issuer can be told where it will be.
    const port = await freePort();
    const storagePort = await freePort();
    const issuerUrl = `http://127.0.0.1:${port}`;
    const config = {
      port,
      storageUrl: `http://127.0.0.1:${storagePort}`,
      signingKeys: [path.basename(keyFile(key))],
      storageSecretFile: 'storage.secret',
      database: 'issuer.sqlite',
      oidc: { issuer: provider.issuer, audience: 'urn:valet', algorithms: ['ES256'] },
      rules: {
        upload: { op: 'put', prefix: 'users/{subject}/', maxSize: '1MiB', ttl: '2m' },
        read: { op: 'get', prefix: 'users/{subject}/', revocation: '2m' },
        strict: { op: 'get', prefix: 'users/{subject}/', revocation: 'strict' },
      },
      quota: { maxBytes: '2MiB' },
      logLevel: 'warn',
    };
    const configFile = path.join(dir, 'issuer.json');
    await writeFile(configFile, JSON.stringify(config));
    const issuer = await startValet(['issuer', '--config', configFile], /listening on (http:\/\/\S+)/, t);
    assert.equal(issuer.url, issuerUrl);
    // It says how to run storage for it; the command runs as it is (but for `npx`: this package's bin).
    const said = await eventually(
      async () => /run Valet storage for it with:\n {2}(.+)\n/.exec(issuer.output())?.[1],
    );
    assert.equal(
      said,
      `npx valet storage --data ./objects --issuer ${issuerUrl} --secret-file ${path.join(dir, 'storage.secret')} --port ${storagePort}`,
    );
    const storage = await startValet(
      said.replace(/^npx valet /, '').split(' '),
      /listening on (http:\/\/\S+)/,
      t,
      {},
      ['sh', '-c', `cd '${dir}' && exec "$0" "$@"`],
    );
    assert.equal(storage.url, `http://127.0.0.1:${storagePort}`);

    const token = await provider.token('alice');
    const file = path.join(dir, 'note.txt');
    await writeFile(file, 'from the config-file issuer');
    const auth = ['--issuer', issuerUrl, '--token', token];
    const up = await eventually(async () => {
      const result = await runValet(['upload', file, ...auth, '--json']);
      return result.code === 0 ? result : undefined;
    });
    assert.equal(JSON.parse(up.stdout).key, 'users/alice/note.txt');
    const big = path.join(dir, 'big.bin');
    await writeFile(big, randomBytes(2 * 2 ** 20));
    const refused = await runValet(['upload', big, ...auth]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /larger than the 1 MiB limit/);
    await eventually(async () => {
      const ls = await runValet(['ls', ...auth, '--json']);
      return (JSON.parse(ls.stdout) as { objects: unknown[] }).objects.length === 1 ? true : undefined;
    });
    // Each rule's revocation bound is signed into its keys: 2 minutes; strict, none (storage's own).
    const rev = async (rule: string) => {
      const response = await fetch(`${issuerUrl}/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ op: 'get', key: 'users/alice/note.txt', rule }),
      });
      const { url } = (await response.json()) as { url: string };
      const payload = /\.([\w-]+)\.[\w-]+$/.exec(new URL(url).searchParams.values().next().value ?? '')?.[1];
      return (JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as { rev?: number }).rev;
    };
    assert.equal(await rev('read'), 120);
    assert.equal(await rev('strict'), undefined);
    const out = path.join(dir, 'back.txt');
    assert.equal((await runValet(['download', 'users/alice/note.txt', ...auth, '--out', out])).code, 0);
    assert.equal(await readFile(out, 'utf8'), 'from the config-file issuer');
    assert.equal(await issuer.stop('SIGTERM'), 0);
  });

  it('stops on SIGTERM while a client keeps polling it on a kept-alive connection', async (t) => {
    const file = await configFile((c) => {
      c.database = 'issuer.sqlite';
    });
    const issuer = await startValet(['issuer', '--config', file], /listening on (http:\/\/\S+)/, t);
    // A client on one kept-alive connection that always has a request in flight (each body takes
    // 300 ms to arrive), then sends the next on the same connection: Node's close() alone would
    // wait for that connection forever.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let polling = true;
    const poller = (async () => {
      const deadline = Date.now() + 20_000;
      while (polling && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const req = http.request(
            `${issuer.url}/v1/keys`,
            { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': '2' } },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', () => resolve());
          req.write('{');
          setTimeout(() => req.end('}'), 300);
        });
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    const code = await issuer.stop('SIGTERM');
    const took = Date.now() - started;
    polling = false;
    await poller;
    agent.destroy();
    assert.equal(code, 0);
    assert.ok(took < 5_000, `stopped after ${took} ms`);
  });

  it('refuses an invalid config with one line and status 2', async () => {
    const { dir } = await keyFiles([await testKey()]);
    const configFile = path.join(dir, 'bad.json');
    await writeFile(configFile, JSON.stringify({ port: 0, rules: {} }));
    const result = await runValet(['issuer', '--config', configFile]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /invalid config/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });
});
