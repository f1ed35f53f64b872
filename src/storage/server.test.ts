import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { testKey } from '../../test/helpers/keys.js';
import { isValetError } from '../token/errors.js';
import { publicJwk, TrustedKeys } from '../token/keys.js';
import { createStorageServer } from './server.js';

async function server(options: { headersTimeout?: number; idleTimeout?: number } = {}) {
  const key = await testKey();
  const storage = await createStorageServer({
    dataDir: path.join(await mkdtemp(path.join(tmpdir(), 'valet-server-')), 'data'),
    keys: await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] }),
    logger: pino({ level: 'silent' }),
    ...options,
  });
  return { storage, url: new URL(await storage.listen(0, '127.0.0.1')) };
}

describe('createStorageServer', () => {
  it('cuts a client that trickles its headers (slowloris) after the header timeout', async () => {
    const { storage, url } = await server({ headersTimeout: 1000, idleTimeout: 30_000 });
    try {
      const started = Date.now();
      const answer = await new Promise<string>((resolve) => {
        const socket = net.connect(Number(url.port), url.hostname, () =>
          socket.write('GET /healthz HTTP/1.1\r\nX-Slow: '),
        );
        // One byte every 200 ms: never idle, never done.
        const timer = setInterval(() => socket.write('a'), 200);
        let out = '';
        socket.setEncoding('latin1').on('data', (d: string) => {
          out += d;
        });
        socket.on('close', () => {
          clearInterval(timer);
          resolve(out);
        });
        socket.on('error', () => {});
      });
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /"code":"request_timeout"/);
      assert.ok(Date.now() - started < 5000, `cut after ${Date.now() - started} ms`);
    } finally {
      await storage.close();
    }
  });

  it('validates its options with a clear error', async () => {
    const key = await testKey();
    const keys = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] });
    const dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'valet-server-')), 'data');
    for (const bad of [
      { dataDir: '', keys },
      { dataDir, keys: {} },
      { dataDir, keys, clockSkew: -1 },
      { dataDir, keys, maxLifetime: 0 },
      { dataDir, keys, corsOrigins: ['https://a.example/'] },
    ]) {
      await assert.rejects(
        createStorageServer(bad as Parameters<typeof createStorageServer>[0]),
        (e) => isValetError(e, 'invalid_options'),
        JSON.stringify(Object.keys(bad)),
      );
    }
  });

  it('holds its data directory: a second server on it is refused until the first closes', async () => {
    const key = await testKey();
    const keys = await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] });
    const dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'valet-server-')), 'data');
    const logger = pino({ level: 'silent' });
    const first = await createStorageServer({ dataDir, keys, logger });
    await assert.rejects(
      createStorageServer({ dataDir, keys, logger }),
      (e) => isValetError(e, 'invalid_options') && /in use/.test(e.message),
    );
    await first.close();
    await first.close(); // closing twice is harmless
    const second = await createStorageServer({ dataDir, keys, logger });
    await second.close();
  });
});
