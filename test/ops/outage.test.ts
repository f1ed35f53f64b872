// Operations, end to end (npm run test:ops): the app (the issuer, a process of its own) is killed
// for two minutes while a 1 GiB resumable upload and 50 downloads with keys in hand run. None
// fails; a key revoked before the outage stays refused, also across a storage restart during it;
// a strict rule's key gets 503 once its bound passes; when the app is back the upload renews its
// key, completes, and its event is recorded once.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createClient } from '../../src/client/client.js';
import { openFile } from '../../src/client/node.js';
import { openDatabase } from '../../src/sqlite/database.js';
import { bigFile } from '../helpers/files.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { startProvider } from '../helpers/oidc.js';
import { freePort, type RunningProcess, startStorage, startValet } from '../helpers/storage.js';
import { eventually } from '../helpers/system.js';

const GiB = 2 ** 30;
const OUTAGE_MS = 120_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an outage of the app', () => {
  it('stops no transfer with a key in hand, and no revocation', { timeout: 600_000 }, async (t) => {
    const provider = await startProvider(t, { clients: ['alice'], audiences: ['urn:valet'] });
    const key = await testKey();
    const { dir, keyFile } = await keyFiles([key]);
    await writeFile(path.join(dir, 'storage.secret'), 's'.repeat(43), { mode: 0o600 });
    const [issuerPort, storagePort] = [await freePort(), await freePort()];
    const issuerUrl = `http://127.0.0.1:${issuerPort}`;
    const config = path.join(dir, 'issuer.json');
    await writeFile(
      config,
      JSON.stringify({
        port: issuerPort,
        storageUrl: `http://127.0.0.1:${storagePort}`,
        signingKeys: [path.basename(keyFile(key))],
        storageSecretFile: 'storage.secret',
        database: 'issuer.sqlite',
        oidc: { issuer: provider.issuer, audience: 'urn:valet', algorithms: ['ES256'] },
        admins: ['alice'],
        rules: {
          // A short upload key: it expires during the outage, and is renewed once the app is back.
          upload: { op: 'put', prefix: 'users/{subject}/', maxSize: '2GiB', ttl: '1m' },
          read: { op: 'get', prefix: 'users/{subject}/', ttl: '5m' },
          strict: { op: 'get', prefix: 'users/{subject}/', ttl: '5m', revocation: 'strict' },
        },
        logLevel: 'warn',
      }),
    );
    const startIssuer = () => startValet(['issuer', '--config', config], /listening on (http:\/\/\S+)/, t);
    let issuer: RunningProcess = await startIssuer();
    const storageArgs = [
      '--issuer',
      issuerUrl,
      '--secret-file',
      path.join(dir, 'storage.secret'),
      '--drain',
      '2s',
    ];
    let storage = await startStorage({ port: storagePort, args: storageArgs }, t);

    const token = await provider.token('alice');
    const call = async (route: string, body: unknown) => {
      const response = await fetch(`${issuerUrl}${route}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.ok(response.ok, `${route}: ${response.status}`);
      return (await response.json()) as { id: string; url: string };
    };
    let patches = 0;
    const client = createClient({
      issuer: issuerUrl,
      getToken: () => token,
      retries: 10,
      retryDelay: 1_000,
      resumeStore: null,
      // Each 64 MiB chunk waits 8 s: the upload spans the outage (16 chunks, over two minutes).
      fetch: async (input, init) => {
        if (init?.method === 'PATCH') {
          patches++;
          await sleep(8_000);
        }
        return fetch(input, init);
      },
    });

    // Before the outage: an object to download, 50 keys for it, a strict key, a revoked key.
    const small = await client.upload(new Blob([Buffer.alloc(2 * 2 ** 20, 7)]), { name: 'small.bin' });
    const reads = await Promise.all(
      Array.from({ length: 50 }, () => call('/v1/keys', { op: 'get', key: small.key })),
    );
    const strict = await call('/v1/keys', { op: 'get', key: small.key, rule: 'strict' });
    const revoked = await call('/v1/keys', { op: 'get', key: small.key });
    await call('/v1/revocations', { kind: 'key', value: revoked.id });
    const status = async (url: string) => {
      const response = await fetch(url);
      await response.body?.cancel();
      return response.status;
    };
    await eventually(async () => ((await status(revoked.url)) === 403 ? true : undefined));
    assert.equal(await status(strict.url), 200);

    // The 1 GiB upload starts; once a chunk is in, the app is killed.
    const file = path.join(dir, 'big.bin');
    const sha256 = await bigFile(file, GiB);
    // A failed assertion ends the test: the upload stops with it.
    const stopUpload = new AbortController();
    t.after(() => stopUpload.abort());
    const upload = client.upload(await openFile(file), {
      name: 'big.bin',
      resumable: true,
      signal: stopUpload.signal,
    });
    await eventually(async () => (patches >= 2 ? true : undefined), 60_000);
    await issuer.stop('SIGKILL');
    const down = Date.now();

    // During the outage: 50 downloads, one every two seconds. While storage itself restarts (below)
    // a connection is refused: the download tries again, as any client does.
    let refused = 0;
    const fetchAgain = async (url: string): Promise<Response> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fetch(url);
        } catch (error) {
          if (attempt >= 20) throw error;
          refused++;
          await sleep(500);
        }
      }
    };
    const downloads = (async () => {
      const results: number[] = [];
      for (const read of reads) {
        const response = await fetchAgain(read.url);
        const body = Buffer.from(await response.arrayBuffer());
        results.push(response.status === 200 && body.length === 2 * 2 ** 20 ? 200 : response.status);
        await sleep(2_000);
      }
      return results;
    })();
    await sleep(8_000);
    assert.equal(await status(strict.url), 503, "a strict key, past storage's 5 s bound");
    assert.equal(await status(revoked.url), 403, 'what was revoked stays refused');

    // Storage restarts during the outage: it kept the list and the keys.
    await storage.stop('SIGTERM');
    storage = await startStorage({ port: storagePort, dataDir: storage.dataDir, args: storageArgs }, t);
    assert.equal(await status(revoked.url), 403, 'still refused after the restart');
    assert.equal(await status(reads[0]?.url as string), 200, 'a key in hand still works');
    assert.equal(await status(strict.url), 503);

    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
    issuer = await startIssuer();
    const results = await downloads;
    assert.deepEqual(
      results.filter((s) => s !== 200),
      [],
      'no download failed',
    );
    t.diagnostic(`downloads that met storage restarting and tried again: ${refused}`);
    const result = await upload;
    assert.equal(result.size, GiB);
    assert.equal(result.sha256, sha256);

    // Its event reached the app once (storage's outbox delivered it when the app came back).
    await eventually(async () => {
      const db = openDatabase(path.join(dir, 'issuer.sqlite'));
      try {
        const row = db
          .prepare("SELECT count(*) AS n FROM events WHERE object = ? AND type = 'object.created'")
          .get('users/alice/big.bin') as { n: number };
        return row.n === 1 ? true : undefined;
      } finally {
        db.close();
      }
    }, 30_000);
    await sleep(2_000);
    const listed = await client.list();
    assert.ok(listed.some((o) => o.key === 'users/alice/big.bin' && o.size === GiB));
    assert.equal(await storage.stop(), 0);
  });
});
