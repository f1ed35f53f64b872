import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { DriverUnderTest } from './contract.js';
import type { Toolkit } from './contract-toolkit.js';

/** The contract's case for `read()`: the issuer's validators read uploads through it. */
export function readCases(current: () => { setup: DriverUnderTest; t: Toolkit }): void {
  it('streams an object with its own authority, only the version asked for (validators)', async (ctx) => {
    const { setup, t } = current();
    const { driver } = setup;
    if (!driver.read) return ctx.skip('this driver reads no objects: no rule of it may validate content');
    const body = randomBytes(300_000);
    const object = await t.stored('own-read.bin', body);
    const read = await driver.read(object, t.context());
    assert.ok(read, 'read() finds the object');
    const chunks: Buffer[] = [];
    for await (const chunk of read.body) chunks.push(Buffer.from(chunk));
    assert.deepEqual(Buffer.concat(chunks), body);
    assert.equal(read.size, body.length);
    const head = await driver.head(object, t.context());
    assert.equal(read.etag, head?.etag);
    const same = await driver.read(object, t.context(), { etag: read.etag });
    assert.ok(same, 'the same version is read by its ETag');
    same.body.destroy();
    assert.equal(await driver.read(object, t.context(), { etag: '"another-version"' }), undefined);
    assert.equal(await driver.read(t.name('missing.bin'), t.context()), undefined);
  });
}
