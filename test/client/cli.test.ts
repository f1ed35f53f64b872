// End-to-end: the `valet` command line, as users and outside tests run it.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { publicJwk } from '../../src/token/keys.js';
import { request } from '../helpers/http.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { runValet, startStorage } from '../helpers/storage.js';

const tempDir = () => mkdtemp(path.join(tmpdir(), 'valet-cli-'));

/** A failure is one line on stderr and a non-zero exit. */
function assertFailure(result: { code: number | null; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, result.stderr);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, pattern);
}

describe('valet CLI', () => {
  it('prints help for itself and every command', async () => {
    const overview = await runValet(['--help']);
    assert.equal(overview.code, 0);
    for (const name of ['keygen', 'jwks', 'storage', 'mint'])
      assert.match(overview.stdout, new RegExp(`\\b${name}\\b`));
    const helps = await Promise.all(
      ['keygen', 'jwks', 'storage', 'mint'].map((c) => runValet([c, '--help'])),
    );
    for (const [i, name] of ['keygen', 'jwks', 'storage', 'mint'].entries()) {
      assert.equal(helps[i]?.code, 0);
      assert.match(helps[i]?.stdout ?? '', new RegExp(`^Usage: valet ${name}`));
    }
  });

  it('refuses unknown commands, unknown flags and bad values with one clear line', async () => {
    const dir = await tempDir();
    // A mint command that is fine but for the flags given after it.
    const mint = (...flags: string[]) =>
      runValet(['mint', '--key', 'k', '--storage', 'http://x', '--object', 'a', ...flags]);
    const results = await Promise.all([
      runValet(['frobnicate']),
      runValet(['keygen', '--out', path.join(dir, 'k'), '--bogus']),
      runValet(['keygen']),
      mint('--op', 'post', '--ttl', '5m'),
      mint('--op', 'get', '--ttl', 'soon'),
      mint('--op', 'put', '--ttl', '5m', '--max-size', '1.5'),
      runValet(['storage', '--data', dir]),
      runValet(['storage', '--data', dir, '--jwks', 'x', '--port', '99999']),
    ]);
    assertFailure(results[0], 2, /unknown command "frobnicate"/);
    assertFailure(results[1], 2, /'--bogus'/);
    assertFailure(results[2], 2, /--out is required/);
    assertFailure(results[3], 2, /--op must be one of/);
    assertFailure(results[4], 2, /--ttl: "soon" is not a duration/);
    assertFailure(results[5], 2, /--max-size/);
    assertFailure(
      results[6],
      2,
      /storage needs the issuer \(--issuer URL --secret-file FILE\) or a JWK set \(--jwks\)/,
    );
    assertFailure(results[7], 2, /--port/);
  });

  it('writes a private key readable by its owner only, and refuses to overwrite it', async () => {
    const file = path.join(await tempDir(), 'signing.json');
    const made = await runValet(['keygen', '--out', file]);
    assert.equal(made.code, 0, made.stderr);
    const jwk = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(jwk.kty, 'OKP');
    assert.equal(jwk.crv, 'Ed25519');
    assert.equal(jwk.alg, 'EdDSA');
    assert.equal(typeof jwk.d, 'string');
    assert.match(jwk.kid, /^[A-Za-z0-9_-]{43}$/);
    assert.match(made.stdout, new RegExp(jwk.kid));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assertFailure(await runValet(['keygen', '--out', file]), 2, /exists; pass --force/);
    assert.equal((await runValet(['keygen', '--out', file, '--force'])).code, 0);
    assert.notEqual(JSON.parse(await readFile(file, 'utf8')).kid, jwk.kid);
  });

  it('writes a new storage secret readable by its owner only, and never overwrites one', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'storage.secret');
    const made = await runValet(['secret', '--out', file]);
    assert.equal(made.code, 0, made.stderr);
    const secret = (await readFile(file, 'utf8')).trim();
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url');
    assert.ok(!made.stdout.includes(secret), 'the secret is never printed');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assertFailure(await runValet(['secret', '--out', file]), 2, /exists; a secret is never overwritten/);
    assert.equal((await readFile(file, 'utf8')).trim(), secret);
    await runValet(['secret', '--out', path.join(dir, 'other.secret')]);
    assert.notEqual((await readFile(path.join(dir, 'other.secret'), 'utf8')).trim(), secret);
  });

  it('prints the public JWK set of one or more keys, never a private part', async () => {
    const dir = await tempDir();
    await runValet(['keygen', '--out', path.join(dir, 'a.json')]);
    await runValet(['keygen', '--out', path.join(dir, 'b.json')]);
    const result = await runValet(['jwks', path.join(dir, 'a.json'), path.join(dir, 'b.json')]);
    assert.equal(result.code, 0, result.stderr);
    const set = JSON.parse(result.stdout);
    assert.equal(set.keys.length, 2);
    for (const k of set.keys)
      assert.deepEqual(Object.keys(k).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.ok(!result.stdout.includes('"d"'));
    await writeFile(path.join(dir, 'broken.json'), '{nope');
    assertFailure(await runValet(['jwks', path.join(dir, 'broken.json')]), 1, /broken\.json/);
    assertFailure(
      await runValet(['jwks', path.join(dir, 'a.json'), path.join(dir, 'a.json')]),
      1,
      /two keys with kid/,
    );
  });

  it('mints URLs that storage honours, with their constraints', async (t) => {
    const dir = await tempDir();
    const keyFile = path.join(dir, 'key.json');
    const jwksFile = path.join(dir, 'jwks.json');
    await runValet(['keygen', '--out', keyFile]);
    await writeFile(jwksFile, (await runValet(['jwks', keyFile])).stdout);
    const storage = await startStorage({ jwksFile }, t);
    const mint = async (...args: string[]) => {
      const r = await runValet(['mint', '--key', keyFile, '--storage', storage.url, ...args]);
      assert.equal(r.code, 0, r.stderr);
      return new URL(r.stdout.trim());
    };
    const put = await mint(
      '--op',
      'put',
      '--object',
      'cli/notes é.txt',
      '--ttl',
      '90s',
      '--max-size',
      '1KiB',
      '--content-type',
      'text/*',
      '--once',
    );
    assert.equal(put.pathname, '/o/cli/notes%20%C3%A9.txt');
    const send = (url: URL, body: string, type = 'text/plain') =>
      request(storage.url, {
        method: 'PUT',
        path: url.pathname + url.search,
        body,
        headers: { 'content-type': type },
      });
    assert.equal((await send(put, 'x'.repeat(2000))).json.error?.code, 'entity_too_large');
    assert.equal((await send(put, 'hi', 'image/png')).json.error?.code, 'unsupported_media_type');
    assert.equal((await send(put, 'hello')).status, 201);
    assert.equal((await send(put, 'again')).json.error?.code, 'token_replayed');
    const get = await mint(
      '--op',
      'get',
      '--object',
      'cli/notes é.txt',
      '--ttl',
      '5m',
      '--filename',
      'notes.txt',
    );
    const res = await request(storage.url, { path: get.pathname + get.search });
    assert.equal(res.body.toString(), 'hello');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="notes.txt"');
    // A resumable key creates one tus upload; a key for that upload continues it.
    const creating = await mint(
      '--op',
      'put',
      '--object',
      'cli/big.bin',
      '--ttl',
      '5m',
      '--resumable',
      '--size',
      '4',
    );
    assert.equal(creating.pathname, '/uploads');
    const created = await request(storage.url, {
      method: 'POST',
      path: creating.pathname + creating.search,
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '4' },
    });
    assert.equal(created.status, 201);
    const id = String(created.headers.location).split('/').pop() as string;
    const continuing = await mint('--op', 'put', '--object', 'cli/big.bin', '--ttl', '5m', '--upload', id);
    assert.equal(continuing.pathname, `/uploads/${id}`);
    const patched = await request(storage.url, {
      method: 'PATCH',
      path: continuing.pathname + continuing.search,
      headers: {
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body: 'tus!',
    });
    assert.equal(patched.status, 200);
    // The storage's --max-ttl (1 h by default) is enforced on what mint produces.
    const long = await mint('--op', 'get', '--object', 'cli/notes é.txt', '--ttl', '2h');
    assert.equal(
      (await request(storage.url, { path: long.pathname + long.search })).json.error?.code,
      'token_lifetime_too_long',
    );
    assertFailure(
      await runValet([
        'mint',
        '--key',
        keyFile,
        '--storage',
        storage.url,
        '--op',
        'get',
        '--object',
        'a/../b',
        '--ttl',
        '5m',
      ]),
      1,
      /invalid object key/,
    );
    await storage.stop();
  });

  it('reloads its trusted keys on SIGHUP: keys rotate with an overlap, then the old one is retired', async (t) => {
    const [oldKey, newKey] = [await testKey(), await testKey()];
    const files = await keyFiles([oldKey]);
    const storage = await startStorage({ jwksFile: files.jwksFile }, t);
    const put = async (signer: typeof oldKey) => {
      const token = await signer.mint({ op: 'put', object: 'rotate/x' });
      return request(storage.url, { method: 'PUT', path: `/o/rotate/x?vk=${token}`, body: 'x' });
    };
    const hup = async (keys: (typeof oldKey)[]) => {
      await writeFile(files.jwksFile, JSON.stringify({ keys: keys.map((k) => publicJwk(k.jwk)) }));
      storage.proc.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 500));
    };
    assert.ok([200, 201].includes((await put(oldKey)).status));
    assert.equal((await put(newKey)).json.error?.code, 'token_invalid');
    // One old-key token used before and after its key is retired: storage remembers verified
    // tokens, and retiring the key must end that memory too.
    const reused = await oldKey.mint({ op: 'get', object: 'rotate/x' });
    const getReused = () => request(storage.url, { path: `/o/rotate/x?vk=${reused}` });
    assert.equal((await getReused()).status, 200);
    await hup([oldKey, newKey]);
    assert.equal((await put(oldKey)).status, 200, 'overlap: the old key still works');
    assert.equal((await put(newKey)).status, 200, 'overlap: the new key works');
    await hup([newKey]);
    assert.equal((await put(oldKey)).json.error?.code, 'token_invalid', 'the retired key is refused');
    assert.equal(
      (await getReused()).json.error?.code,
      'token_invalid',
      'a token it verified before is refused too',
    );
    assert.equal((await put(newKey)).status, 200);
    assert.match(storage.logs(), /trusted keys reloaded/);
    assert.equal(await storage.stop('SIGTERM'), 0);
  });

  it('refuses bad storage configuration with one line', async () => {
    const key = await testKey();
    const { jwksFile, dir } = await keyFiles([key]);
    const results = await Promise.all([
      runValet([
        'storage',
        '--data',
        path.join(dir, 'd1'),
        '--jwks',
        jwksFile,
        '--port',
        '0',
        '--cors-origin',
        'https://app.example/',
      ]),
      runValet([
        'storage',
        '--data',
        path.join(dir, 'd2'),
        '--jwks',
        path.join(dir, 'missing.json'),
        '--port',
        '0',
      ]),
      runValet([
        'storage',
        '--data',
        path.join(dir, 'd3'),
        '--jwks',
        jwksFile,
        '--port',
        '0',
        '--max-ttl',
        'forever',
      ]),
    ]);
    assertFailure(results[0], 1, /CORS origin/);
    assertFailure(results[1], 1, /missing\.json/);
    assertFailure(results[2], 2, /--max-ttl/);
  });
});
