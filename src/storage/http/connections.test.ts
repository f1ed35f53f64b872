import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { addressBucket, defaultConnectionLimits, descriptorLimit } from './connections.js';

describe('connection limits', () => {
  it('read the soft descriptor limit of the process', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'valet-limits-')), 'limits');
    await writeFile(
      file,
      'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n',
    );
    assert.equal(descriptorLimit(file), 1024);
    assert.equal(descriptorLimit(path.join(file, 'missing')), undefined);
    const own = descriptorLimit();
    assert.ok(own === undefined || own > 0);
  });

  it('leave room for storage itself: two descriptors a connection, a quarter per address', () => {
    assert.deepEqual(defaultConnectionLimits(20_000), { total: 8808, perAddress: 2202 });
    assert.deepEqual(defaultConnectionLimits(1024), { total: 268, perAddress: 67 });
    assert.deepEqual(defaultConnectionLimits(600), { total: 78, perAddress: 19 });
    assert.deepEqual(defaultConnectionLimits(100), { total: 8, perAddress: 2 }, 'a floor, however low');
    assert.deepEqual(defaultConnectionLimits(undefined), defaultConnectionLimits(1024));
    assert.ok(defaultConnectionLimits(Number.POSITIVE_INFINITY).total < 600_000);
  });

  it('count an IPv4 address by itself and an IPv6 one by its /64', () => {
    assert.equal(addressBucket('203.0.113.7'), '203.0.113.7');
    assert.equal(addressBucket('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(addressBucket('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressBucket('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(addressBucket('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressBucket('::1'), '0:0:0:0::/64');
    assert.equal(addressBucket('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressBucket(undefined), '');
  });
});
