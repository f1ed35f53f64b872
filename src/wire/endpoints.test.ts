import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Endpoints } from './endpoints.js';

describe('Endpoints (an issuer endpoint on several replicas)', () => {
  it('keeps to the replica that answered, and moves on when it fails', async () => {
    const endpoints = new Endpoints(['http://a.test/v1/x', 'http://b.test/v1/x', 'http://c.test/v1/x']);
    const down = new Set(['http://a.test/v1/x']);
    const tried: string[] = [];
    const call = (url: string) => {
      tried.push(url);
      return down.has(url) ? Promise.reject(new Error(`${url} is down`)) : Promise.resolve(url);
    };
    assert.equal(await endpoints.first(call), 'http://b.test/v1/x');
    assert.equal(await endpoints.first(call), 'http://b.test/v1/x', 'kept');
    down.add('http://b.test/v1/x');
    assert.equal(await endpoints.first(call), 'http://c.test/v1/x');
    assert.deepEqual(tried, [
      'http://a.test/v1/x',
      'http://b.test/v1/x',
      'http://b.test/v1/x',
      'http://b.test/v1/x',
      'http://c.test/v1/x',
    ]);
    assert.equal(endpoints.path, '/v1/x');
  });

  it('fails with the last failure when no replica answers', async () => {
    const endpoints = new Endpoints(['http://a.test/x', 'http://b.test/x']);
    await assert.rejects(
      endpoints.first((url) => Promise.reject(new Error(`no ${url}`))),
      /no http:\/\/b\.test\/x/,
    );
  });

  it('takes one URL as a list of one, and refuses none or a malformed one', () => {
    assert.equal(new Endpoints('http://a.test/x').size, 1);
    assert.throws(() => new Endpoints([]), /at least one URL/);
    assert.throws(() => new Endpoints(['not a url']));
  });
});
