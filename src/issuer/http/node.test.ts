import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { testKey } from '../../../test/helpers/keys.js';
import { createIssuer } from '../issuer.js';
import { toNodeListener } from './node.js';

async function serve(t: TestContext, listener: http.RequestListener): Promise<string> {
  const server = http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('toNodeListener', () => {
  it("hands the app's hook a real Request (lazily built) and records the caller's address", async (t) => {
    const seen: unknown[] = [];
    const key = await testKey();
    const issuer = await createIssuer({
      signingKeys: [key.jwk],
      database: ':memory:',
      storageUrl: 'http://storage.test',
      storageSecret: 's'.repeat(43),
      authenticate: async (request) => {
        seen.push(request instanceof Request, request.method, new URL(request.url).pathname);
        seen.push(request.headers.get('x-session'), await request.clone().text());
        return request.headers.get('x-session');
      },
      rules: { upload: { op: 'put', prefix: 'u/{subject}/' } },
    });
    t.after(() => issuer.close());
    const url = await serve(t, toNodeListener(issuer));
    const body = JSON.stringify({ op: 'put', name: 'a' });
    const response = await fetch(`${url}/v1/keys`, {
      method: 'POST',
      headers: { 'x-session': 'alice', 'content-type': 'application/json' },
      body,
    });
    assert.equal(response.status, 201);
    assert.deepEqual(seen, [true, 'POST', '/v1/keys', 'alice', body]);
    const minted = (await response.json()) as { id: string };
    assert.equal((await issuer.records.getGrant(minted.id))?.clientAddress, '127.0.0.1');
  });

  it('serves any fetch handler, and refuses bodies over the limit with 413', async (t) => {
    const url = await serve(
      t,
      toNodeListener(
        {
          fetch: async (request) =>
            new Response(`${request.method} ${await request.text()}`, { status: 202 }),
        },
        { maxBody: 10 },
      ),
    );
    const ok = await fetch(url, { method: 'POST', body: 'hello' });
    assert.equal(ok.status, 202);
    assert.equal(await ok.text(), 'POST hello');
    const big = await fetch(url, { method: 'POST', body: 'x'.repeat(11) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'entity_too_large');
  });
});
