// RFC 9110 conditionals: HTTP-dates only, and the order of §13.2.2 (issue 14, point 14).
import assert from 'node:assert/strict';
import type http from 'node:http';
import { describe, it } from 'node:test';
import type { ObjectMeta } from '../disk/object-file.js';
import { evaluatePreconditions, ifRangeHolds, parseHttpDate } from './conditions.js';

const SUN = Date.UTC(1994, 10, 6, 8, 49, 37);
const meta = { etag: '"abc"', created: SUN + 400 } as ObjectMeta;
const req = (headers: Record<string, string>) => ({ headers }) as unknown as http.IncomingMessage;

describe('conditional requests', () => {
  it('reads the three HTTP-date forms and nothing else', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), SUN);
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), SUN);
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), SUN);
    for (const bad of [
      '1994-11-06T08:49:37Z',
      '1994-11-06',
      'Sun, 06 Nov 1994 08:49:37 +0000',
      'Sun, 31 Feb 1994 08:49:37 GMT',
      'Sun, 06 Nov 1994 25:49:37 GMT',
      'yesterday',
      '',
    ]) {
      assert.equal(parseHttpDate(bad), undefined, bad);
    }
  });

  it('evaluates If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since in that order', () => {
    const later = 'Mon, 07 Nov 1994 08:49:37 GMT';
    const earlier = 'Sat, 05 Nov 1994 08:49:37 GMT';
    assert.equal(evaluatePreconditions(req({}), meta), 'proceed');
    assert.equal(evaluatePreconditions(req({ 'if-match': '"x", "abc"' }), meta), 'proceed');
    assert.equal(evaluatePreconditions(req({ 'if-match': 'W/"abc"' }), meta), 'failed');
    assert.equal(evaluatePreconditions(req({ 'if-unmodified-since': earlier }), meta), 'failed');
    assert.equal(evaluatePreconditions(req({ 'if-unmodified-since': '1994-11-05' }), meta), 'proceed');
    assert.equal(
      evaluatePreconditions(req({ 'if-match': '*', 'if-unmodified-since': earlier }), meta),
      'proceed',
    );
    assert.equal(evaluatePreconditions(req({ 'if-none-match': 'W/"abc"' }), meta), 'not_modified');
    assert.equal(
      evaluatePreconditions(req({ 'if-none-match': '"x"', 'if-modified-since': later }), meta),
      'proceed',
    );
    assert.equal(evaluatePreconditions(req({ 'if-modified-since': later }), meta), 'not_modified');
    assert.equal(
      evaluatePreconditions(req({ 'if-modified-since': '1994-11-07T00:00:00Z' }), meta),
      'proceed',
    );
    assert.equal(evaluatePreconditions(req({ 'if-match': '"x"', 'if-none-match': '"abc"' }), meta), 'failed');
  });

  it('applies a Range under If-Range only for the strong ETag or the exact HTTP-date', () => {
    assert.equal(ifRangeHolds(req({ 'if-range': '"abc"' }), meta), true);
    assert.equal(ifRangeHolds(req({ 'if-range': 'W/"abc"' }), meta), false);
    assert.equal(ifRangeHolds(req({ 'if-range': 'Sun, 06 Nov 1994 08:49:37 GMT' }), meta), true);
    assert.equal(ifRangeHolds(req({ 'if-range': '1994-11-06T08:49:37Z' }), meta), false);
  });
});
