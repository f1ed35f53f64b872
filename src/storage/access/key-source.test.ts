import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { testKey } from '../../../test/helpers/keys.js';
import { isValetError } from '../../token/errors.js';
import { publicJwk } from '../../token/keys.js';
import { JwksSource } from './key-source.js';

const setOf = (...keys: Awaited<ReturnType<typeof testKey>>[]) =>
  JSON.stringify({ keys: keys.map((k) => publicJwk(k.jwk)) });

describe('JwksSource', () => {
  it('re-reads a changed file on reload, and keeps the old set if the new file is broken', async () => {
    const [a, b] = [await testKey(), await testKey()];
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-jwks-')), 'jwks.json');
    await writeFile(file, setOf(a));
    const source = await JwksSource.open(file, { refreshInterval: 0 });
    try {
      assert.ok(source.get(a.jwk.kid));
      await writeFile(file, setOf(a, b));
      await source.reload();
      assert.deepEqual(source.kids.sort(), [a.jwk.kid, b.jwk.kid].sort());
      await writeFile(file, setOf(b));
      await source.reload();
      assert.deepEqual(source.kids, [b.jwk.kid]);
      await writeFile(file, '{"keys": [');
      await source.reload();
      assert.deepEqual(source.kids, [b.jwk.kid]);
    } finally {
      source.close();
    }
  });

  it('looks again when a token names an unknown kid, at most once per cooldown', async () => {
    const [a, b] = [await testKey(), await testKey()];
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-jwks-')), 'jwks.json');
    await writeFile(file, setOf(a));
    let now = 0;
    const source = await JwksSource.open(file, {
      refreshInterval: 0,
      unknownKidCooldown: 1000,
      now: () => now,
    });
    try {
      await writeFile(file, setOf(a, b));
      assert.equal(await source.get(b.jwk.kid), undefined, 'within the cooldown: no reload');
      now = 1000;
      assert.ok(await source.get(b.jwk.kid), 'after the cooldown: reloaded');
    } finally {
      source.close();
    }
  });

  it('loads a set from a URL and follows its changes', async () => {
    const [a, b] = [await testKey(), await testKey()];
    let body = setOf(a);
    const server = http.createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(body),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
    const source = await JwksSource.open(url, { refreshInterval: 0 });
    try {
      assert.deepEqual(source.kids, [a.jwk.kid]);
      body = setOf(b);
      await source.reload();
      assert.deepEqual(source.kids, [b.jwk.kid]);
    } finally {
      source.close();
      server.close();
    }
  });

  it('fails to open a missing or invalid set', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-jwks-'));
    await assert.rejects(JwksSource.open(path.join(dir, 'missing.json')));
    await writeFile(path.join(dir, 'private.json'), JSON.stringify({ keys: [(await testKey()).jwk] }));
    await assert.rejects(JwksSource.open(path.join(dir, 'private.json')), (e) =>
      isValetError(e, 'invalid_options'),
    );
  });
});
