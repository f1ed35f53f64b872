// The link between storage and the issuer, as an operator reads it in the logs: one warning when
// the issuer goes away or refuses storage's signature (naming why), one line when it works again,
// never a stack trace per poll.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import pino from 'pino';
import { createIssuer, type Issuer } from '../../src/issuer/issuer.js';
import { createStorageServer } from '../../src/storage/server.js';
import { publicJwk, TrustedKeys } from '../../src/token/keys.js';
import { testKey } from '../helpers/keys.js';
import { freePort } from '../helpers/storage.js';
import { OWNER_RULES, userAuth } from '../helpers/system.js';

const RIGHT = 'r'.repeat(43);
const WRONG = 'w'.repeat(43);

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { lines, logger };
}

describe('storage and issuer link', () => {
  it('logs a failing feed or webhook once per reason, says why, and once when it works again', async (t) => {
    const [feedPort, eventPort] = [await freePort(), await freePort()];
    const key = await testKey();
    const storageLog = capture();
    const issuerLog = capture();
    const storage = await createStorageServer({
      dataDir: await mkdtemp(path.join(tmpdir(), 'valet-link-')),
      keys: await TrustedKeys.fromJwks({ keys: [publicJwk(key.jwk)] }),
      logger: storageLog.logger,
      revocations: { url: `http://127.0.0.1:${feedPort}/v1/revocations`, secret: RIGHT, interval: 50 },
      events: {
        url: `http://127.0.0.1:${eventPort}/v1/events`,
        secret: RIGHT,
        retryDelay: 20,
        maxRetryDelay: 50,
      },
    });
    t.after(() => storage.close());
    await storage.listen(0);
    const warnings = () => storageLog.lines.filter((l) => l.level === 40);
    const back = () =>
      storageLog.lines.filter((l) => l.level === 30 && String(l.msg).includes('works again'));

    // The issuer is not there: one warning, however many polls fail, and no stack trace.
    await sleep(600);
    assert.equal(warnings().length, 1, JSON.stringify(warnings()));
    assert.match(String(warnings()[0]?.reason), /^unreachable: ECONNREFUSED/);
    assert.ok(
      storageLog.lines.every((l) => !JSON.stringify(l).includes('    at ')),
      'no stack traces',
    );

    // The issuer answers with another secret: one more warning, naming the refusal and the path it checked.
    let issuer = await issuerWith(WRONG, key.jwk, storage.url, issuerLog.logger);
    await listen(t, feedPort, () => issuer);
    await sleep(600);
    assert.equal(warnings().length, 2, JSON.stringify(warnings()));
    assert.match(String(warnings()[1]?.reason), /^401 signature_invalid: .*GET \/v1\/revocations/);
    const issuerWarnings = issuerLog.lines.filter((l) => l.level === 40);
    assert.equal(issuerWarnings.length, 1, 'the issuer names the refusal once too');
    assert.match(String(issuerWarnings[0]?.reason), /signature_invalid/);

    // The right secret: the feed says once that it works again.
    await issuer.close();
    issuer = await issuerWith(RIGHT, key.jwk, storage.url, issuerLog.logger);
    await sleep(400);
    assert.equal(back().length, 1, JSON.stringify(back()));

    // The webhook cannot reach the issuer: the event waits, with one warning; then it is delivered.
    const put = await issuer.mint('alice', { op: 'put', name: 'a.txt', size: 1 });
    assert.equal((await fetch(put.url, { method: 'PUT', body: 'a', headers: put.headers })).status, 201);
    await sleep(400);
    const webhook = warnings().filter((l) => String(l.msg).includes('storage events'));
    assert.equal(webhook.length, 1, JSON.stringify(warnings()));
    assert.match(String(webhook[0]?.reason), /^unreachable: ECONNREFUSED/);
    await listen(t, eventPort, () => issuer);
    await sleep(400);
    assert.equal(back().length, 2, JSON.stringify(back()));
    assert.equal(warnings().length, 3, 'no new warning');
    assert.deepEqual(
      (await issuer.list('alice')).map((o) => o.key),
      ['users/alice/a.txt'],
    );
    await issuer.close();
  });
});

async function listen(t: TestContext, port: number, issuer: () => Issuer): Promise<void> {
  const server = http.createServer((req, res) => void serve(issuer(), req, res));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}

async function issuerWith(
  secret: string,
  jwk: Parameters<typeof createIssuer>[0]['signingKeys'][number],
  storageUrl: string,
  logger: pino.Logger,
): Promise<Issuer> {
  return createIssuer({
    signingKeys: [jwk],
    storageUrl,
    storageSecret: secret,
    database: ':memory:',
    authenticate: userAuth,
    rules: OWNER_RULES,
    logger,
  });
}

async function serve(issuer: Issuer, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const response = await issuer.fetch(
    new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      ...(body.length > 0 && { body }),
    }),
  );
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
