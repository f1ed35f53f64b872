import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HANDLE, type Incoming, type Outgoing } from '../issuer/http/messages.js';
import { DevIdentityProvider } from './dev-idp.js';
import { type DevWebState, devWebListener } from './dev-web.js';

describe("valet dev's web port", () => {
  let server: http.Server;
  let base: string;
  const state: DevWebState = { base: '', storageOrigin: 'http://127.0.0.1:1' };
  const seen: string[] = [];
  // An issuer whose web-standard fetch must never be used: the port hands issuer requests to its
  // own Node handler, which builds no Request or Response.
  const issuer = {
    fetch: async (): Promise<Response> => {
      throw new Error('the issuer was called through a WHATWG Request');
    },
    [HANDLE]: async (incoming: Incoming): Promise<Outgoing> => {
      seen.push(`${incoming.method} ${incoming.url.pathname}`);
      return { status: 201, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    },
  };

  before(async () => {
    const idp = await DevIdentityProvider.open(
      path.join(await mkdtemp(path.join(tmpdir(), 'valet-devweb-')), 'idp.json'),
    );
    server = http.createServer(devWebListener(state, idp, 'console.log(1)'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    state.base = base;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('answers 503 for the issuer until it is up, and serves the page and provider meanwhile', async () => {
    const early = await fetch(`${base}/v1/keys`, { method: 'POST', body: '{}' });
    assert.equal(early.status, 503);
    assert.equal(((await early.json()) as { error: { code: string } }).error.code, 'unavailable');
    const page = await fetch(`${base}/`);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    await page.arrayBuffer();
    const config = await fetch(`${base}/idp/.well-known/openid-configuration`);
    assert.equal(((await config.json()) as { issuer: string }).issuer, `${base}/idp`);
  });

  it("sends issuer requests to the issuer's own handler, never through a Request", async () => {
    state.issuer = issuer;
    const minted = await fetch(`${base}/v1/keys`, { method: 'POST', body: '{}' });
    assert.equal(minted.status, 201);
    assert.deepEqual(await minted.json(), { ok: true });
    // Only GETs of the page's files are the page's: a POST to / is the issuer's.
    const post = await fetch(`${base}/`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 201);
    await post.arrayBuffer();
    const script = await fetch(`${base}/app.js`);
    assert.equal(await script.text(), 'console.log(1)');
    assert.deepEqual(seen, ['POST /v1/keys', 'POST /']);
  });
});
