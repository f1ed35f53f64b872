import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { ValetClaims } from '../../token/claims.js';
import { isValetError } from '../../token/errors.js';
import { RevocationFeed } from './revocations.js';

const log = pino({ level: 'silent' });
const T0 = 1_800_000_000_000;

function claims(jti: string, lifetime: number, rev?: number): ValetClaims {
  const iat = T0 / 1000;
  return { op: 'get', obj: 'a', sub: 's', jti, iat, nbf: iat, exp: iat + lifetime, ...(rev && { rev }) };
}

/** A feed served once with one revoked key, then gone. */
async function feedServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.setHeader('etag', '"v1"');
    res.end(
      JSON.stringify({ keys: [{ jti: 'revoked', exp: T0 / 1000 + 3600 }], subjects: [], signing_keys: [] }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/revocations`;
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('the revocation feed at storage', () => {
  it('judges each key by its own bound, and keeps the list and its age across a restart', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-feed-')), 'revocations.json');
    let now = T0;
    const served = await feedServer();
    const options = { url: served.url, secret: 's'.repeat(32), maxStaleness: 5_000, file };
    const first = new RevocationFeed(options, log, () => now);
    await first.poll();
    await served.close();
    assert.equal(JSON.parse(await readFile(file, 'utf8')).confirmedAt, T0, 'kept with its confirmation');

    now = T0 + 60_000; // the issuer has been away for a minute
    const check = (feed: RevocationFeed, c: ValetClaims) => {
      try {
        feed.check(c, 'kid');
        return 'served';
      } catch (error) {
        return isValetError(error) ? error.code : String(error);
      }
    };
    for (const feed of [first, new RevocationFeed(options, log, () => now)]) {
      if (feed !== first) await feed.restore();
      assert.equal(check(feed, claims('revoked', 300, 600)), 'token_revoked');
      assert.equal(check(feed, claims('short', 300, 600)), 'served', 'lives no longer than its bound');
      assert.equal(check(feed, claims('long', 3600, 600)), 'served', 'its bound is not passed yet');
      assert.equal(check(feed, claims('tight', 3600, 30)), 'unavailable', 'past its own 30 s');
      assert.equal(check(feed, claims('strict', 300)), 'unavailable', "past storage's 5 s");
      feed.stop();
    }
  });

  it('takes a damaged kept list as no list: strict keys are refused, nothing revoked is forgotten silently', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-feed-')), 'revocations.json');
    await writeFile(file, '{"confirmedAt": ');
    const feed = new RevocationFeed(
      { url: 'http://127.0.0.1:9/v1/revocations', secret: 's'.repeat(32), file },
      log,
      () => T0,
    );
    await feed.restore();
    assert.equal(feed.age, Number.POSITIVE_INFINITY);
    assert.throws(
      () => feed.check(claims('strict', 300), 'kid'),
      (e) => isValetError(e, 'unavailable'),
    );
    feed.stop();
  });
});
