import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseRange } from './range.js';

describe('parseRange', () => {
  it('serves the whole object without a usable Range', () => {
    for (const header of [
      undefined,
      'items=0-1',
      'bytes',
      'bytes=',
      'bytes=-',
      'bytes=a-b',
      'bytes=5-2',
      'bytes=0-1,3-4',
      'bytes=--1',
    ]) {
      assert.deepEqual(parseRange(header, 100), { kind: 'full' }, String(header));
    }
  });

  it('reads first-last, open-ended and suffix ranges, clamped to the object', () => {
    assert.deepEqual(parseRange('bytes=0-0', 100), { kind: 'partial', start: 0, end: 0 });
    assert.deepEqual(parseRange('bytes=99-99', 100), { kind: 'partial', start: 99, end: 99 });
    assert.deepEqual(parseRange('bytes=10-', 100), { kind: 'partial', start: 10, end: 99 });
    assert.deepEqual(parseRange('bytes=90-1000', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-1000', 100), { kind: 'partial', start: 0, end: 99 });
    assert.deepEqual(parseRange('Bytes= 5-6 ', 100), { kind: 'partial', start: 5, end: 6 });
    assert.deepEqual(parseRange('bytes=0-99999999999999999999', 100), { kind: 'partial', start: 0, end: 99 });
  });

  it('takes a non-zero suffix range of an empty object, the one satisfiable form (RFC 9110 §14.1.1)', () => {
    assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'full' });
    assert.deepEqual(parseRange('bytes=-0', 0), { kind: 'unsatisfiable' });
  });

  it('finds unsatisfiable ranges', () => {
    for (const [header, size] of [
      ['bytes=100-', 100],
      ['bytes=100-200', 100],
      ['bytes=-0', 100],
      ['bytes=0-', 0],
      ['bytes=0-0', 0],
      ['bytes=99999999999999999999-', 100],
    ] as const) {
      assert.deepEqual(parseRange(header, size), { kind: 'unsatisfiable' }, `${header} of ${size}`);
    }
  });

  it('never throws and always stays inside the object (property)', () => {
    const header = fc.oneof(
      fc.string(),
      fc.tuple(fc.option(fc.nat()), fc.option(fc.nat())).map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
    );
    fc.assert(
      fc.property(header, fc.nat({ max: 1e9 }), (h, size) => {
        const r = parseRange(h, size);
        if (r.kind === 'partial') {
          assert.ok(r.start >= 0 && r.start <= r.end && r.end < size);
        }
      }),
      { numRuns: 5000 },
    );
  });
});
