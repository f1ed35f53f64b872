import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testKey } from '../../test/helpers/keys.js';
import { MemoryDriver } from '../drivers/memory.js';
import { isValetError } from '../token/errors.js';
import { createIssuer, type IssuerOptions } from './issuer.js';

describe('issuer options, as types', () => {
  it('holds "exactly one store" and "exactly one way to authenticate" in the type, as the check does', async () => {
    const base = {
      signingKeys: [(await testKey()).jwk],
      storageSecret: 's'.repeat(43),
      database: ':memory:',
      rules: { read: { op: 'get' as const, accept: ['revocation' as const] } },
    };
    const authenticate = () => 'alice';
    const oidc = { issuer: 'https://id.example', audience: 'app' };
    const driver = new MemoryDriver();
    const fine: IssuerOptions = { ...base, driver, authenticate };
    // @ts-expect-error: two stores
    const twoStores: IssuerOptions = { ...base, driver, storageUrl: 'http://storage.test', authenticate };
    // @ts-expect-error: no store
    const noStore: IssuerOptions = { ...base, authenticate };
    // @ts-expect-error: two ways to authenticate
    const twoWays: IssuerOptions = { ...base, driver, authenticate, oidc };
    // @ts-expect-error: no way to authenticate
    const noWay: IssuerOptions = { ...base, driver };
    await createIssuer(fine).then((issuer) => issuer.close());
    for (const options of [twoStores, noStore, twoWays, noWay]) {
      await assert.rejects(createIssuer(options), (e) => isValetError(e, 'invalid_options'));
    }
  });
});
