// `valet issuer --config`: the mistakes people make in a config file, each answered with what is
// wrong, where, and the fix (one line, status 2; a port in use, status 1).
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { configFile } from '../helpers/issuer-config.js';
import { runValet, startValet } from '../helpers/storage.js';

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

describe('valet issuer --config file mistakes', () => {
  const refusal = async (file: string) => {
    const result = await runValet(['issuer', '--config', file]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
    return result.stderr.trim();
  };

  it('places a JSON syntax error by line and column, not by byte position', async () => {
    const file = await configFile();
    const text = (await readFile(file, 'utf8')).replace('"port": 0,', '"port": 0,,');
    await writeFile(file, text);
    const line = text.split('\n').findIndex((l) => l.includes('"port": 0,,')) + 1;
    assert.match(await refusal(file), new RegExp(`is not valid JSON: line ${line}, column 13: `));
  });

  it("checks a rule's and the OIDC block's fields as the issuer does, naming where", async () => {
    const file = await configFile((c) => {
      c.rules = { upload: { op: 'put', prefix: 'in/', contentTypes: ['pictures'] } };
      (c.oidc as Record<string, unknown>).algorithms = ['HS256'];
    });
    const said = await refusal(file);
    assert.match(said, /not a media type or type\/\*/);
    assert.match(said, /rules\.upload\.contentTypes/);
    assert.match(said, /only asymmetric algorithms/);
  });

  it("checks an s3, azure or gcs block with the driver's own settings, naming where", async () => {
    const s3 = await configFile((c) => {
      delete c.storageUrl;
      c.s3 = { bucket: 'photos', endpoint: 'ceph.local:7480' };
    });
    assert.match(await refusal(s3), /s3\.endpoint/);
    const azure = await configFile((c) => {
      delete c.storageUrl;
      c.azure = { container: 'Photos_2026' };
    });
    assert.match(await refusal(azure), /azure\.container.*3 to 63 of a-z, 0-9 and -/);
    const gcs = await configFile((c) => {
      delete c.storageUrl;
      c.gcs = { bucket: 'Photos', credentials: 'key.json' };
    });
    const said = await refusal(gcs);
    assert.match(said, /gcs\.bucket.*3 to 222 of a-z, 0-9, dot, dash and underscore/);
    // The key is never in the config file: it comes from the environment.
    assert.match(said, /unknown key "credentials" in gcs/);
  });

  it('says which key an unknown one most likely meant, and where', async () => {
    const file = await configFile((c) => {
      c.storageSecret = c.storageSecretFile;
      delete c.storageSecretFile;
      c.rules = { read: { op: 'get', prefix: 'users/{subject}/', maxsize: '1MiB' } };
    });
    const said = await refusal(file);
    assert.match(said, /unknown key "storageSecret" in the top level \(did you mean "storageSecretFile"\?\)/);
    assert.match(said, /unknown key "maxsize" in rules\.read \(did you mean "maxSize"\?\)/);
  });

  it('says a config-file issuer needs an "oidc" block, and what to do instead', async () => {
    const file = await configFile((c) => {
      delete c.oidc;
    });
    assert.match(
      await refusal(file),
      /no "oidc" block\. A config-file issuer authenticates callers with OpenID Connect: add "oidc": \{ "issuer": .*mount createIssuer in your app instead/,
    );
  });

  it('names the field of a key or secret file it cannot read, and how to make one', async () => {
    const noKey = await configFile((c) => {
      c.signingKeys = ['missing.jwk'];
    });
    assert.match(
      await refusal(noKey),
      /signingKeys\[0\]: cannot read the signing key file .*missing\.jwk \(ENOENT\); paths are relative to the config file, and "npx valet keygen --out FILE" makes a key/,
    );
    const noSecret = await configFile((c) => {
      c.storageSecretFile = 'nowhere.secret';
    });
    assert.match(
      await refusal(noSecret),
      /storageSecretFile: cannot read the secret file .*nowhere\.secret: ENOENT \("npx valet secret --out FILE" makes one\)/,
    );
  });
});

describe('valet issuer --config oidc', () => {
  it('takes every OIDC option createIssuer takes, maxTokenAge as a duration', async (t) => {
    const file = await configFile((c) => {
      c.oidc = {
        issuer: 'https://id.example',
        audience: 'urn:valet',
        algorithms: ['ES256'],
        maxTokenAge: '10m',
      };
    });
    const issuer = await startValet(['issuer', '--config', file], /listening on (http:\/\/\S+)/, t);
    assert.match(issuer.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe('valet issuer --config validation', () => {
  it('takes rules that validate and the validation block; a scan without clamd is refused', async (t) => {
    const scanning = (c: Record<string, unknown>) => {
      c.rules = { upload: { op: 'put', prefix: 'in/', validate: ['type', 'clamav'] } };
    };
    const noClamd = await configFile(scanning);
    const result = await runValet(['issuer', '--config', noClamd]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /rule "upload" scans uploads with ClamAV: set validation\.clamd/);
    const hookInFile = await configFile((c) => {
      c.rules = { upload: { op: 'put', prefix: 'in/', validate: ['antivirus'] } };
    });
    assert.match((await runValet(['issuer', '--config', hookInFile])).stderr, /rules\.upload\.validate/);
    const file = await configFile((c) => {
      scanning(c);
      c.validation = { clamd: '127.0.0.1:3310', concurrency: 4 };
    });
    const issuer = await startValet(['issuer', '--config', file], /listening on (http:\/\/\S+)/, t);
    const ready = (await (await fetch(`${issuer.url}/readyz`)).json()) as {
      checks: Record<string, { status: string; problem?: string }>;
    };
    assert.match(ready.checks.validation?.problem ?? '', /clamd at 127\.0\.0\.1:3310 does not answer/);
  });
});
