// An issuer whose PostgreSQL goes away: callers get 503 `unavailable` (retry shortly), not a 500,
// and the health check says so; when the database is back, the same issuer works again.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createIssuer } from '../../src/issuer/issuer.js';
import { testKey } from '../helpers/keys.js';
import { startPostgres } from '../helpers/postgres.js';

describe('an issuer whose PostgreSQL goes away', () => {
  it('answers 503 unavailable while it is gone, and works again once it is back', async (t) => {
    const postgres = await startPostgres();
    t.after(() => postgres.stop());
    const key = await testKey();
    const issuer = await createIssuer({
      signingKeys: [key.jwk],
      database: await postgres.freshDatabase(),
      storageUrl: 'http://storage.test',
      storageSecret: 's'.repeat(43),
      authenticate: () => 'erin',
      rules: { read: { op: 'get', prefix: 'users/{subject}/' } },
    });
    t.after(() => issuer.close().catch(() => {}));
    const mint = () =>
      issuer.fetch(
        new Request('http://issuer.test/v1/keys', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ op: 'get', key: 'users/erin/a' }),
        }),
      );
    assert.equal((await mint()).status, 201);
    await postgres.crash();
    const down = await mint();
    assert.equal(down.status, 503);
    assert.equal(((await down.json()) as { error: { code: string } }).error.code, 'unavailable');
    const ready = await issuer.fetch(new Request('http://issuer.test/readyz'));
    assert.equal(ready.status, 503);
    assert.ok(
      ((await ready.json()) as { failing: string[] }).failing.includes('records'),
      'the check is named',
    );
    // Back (after crash recovery): the pool replaces the lost connections, nothing to restart here.
    await postgres.restart();
    let status = 0;
    for (let i = 0; i < 50 && status !== 201; i++) {
      const res = await mint();
      status = res.status;
      await res.body?.cancel();
      if (status !== 201) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 201, 'minting again');
    const back = (await (await issuer.fetch(new Request('http://issuer.test/readyz'))).json()) as {
      checks: { records: { status: string } };
    };
    assert.equal(back.checks.records.status, 'ok');
  });
});
