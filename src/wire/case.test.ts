import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fromWire, toWire, type Wire } from './case.js';

interface Sample {
  id: string;
  expiresAt: string;
  upload?: { partSize: number; renewals: number };
  rules: Array<{ maxSize?: number; contentTypes?: string[] }>;
  metadata?: Record<string, string>;
  headers: Record<string, string>;
  constraints: Record<string, unknown>;
  sha256: string | null;
}

describe('wire casing', () => {
  it('renames fields to snake_case and back, recursively, and leaves opaque maps as they are', () => {
    const value: Sample = {
      id: 'k1',
      expiresAt: '2026-12-06T00:00:00.000Z',
      upload: { partSize: 5, renewals: 0 },
      rules: [{ maxSize: 10, contentTypes: ['image/*'] }, {}],
      metadata: { album_name: 'x', camelName: 'y' },
      headers: { 'Content-Type': 'text/plain', 'x-amz-meta-fooBar': '1' },
      constraints: { max_size: 10, content_types: ['a/b'] },
      sha256: null,
    };
    // The type says the wire shape: a wrong or missing field does not compile.
    const wire = {
      id: 'k1',
      expires_at: '2026-12-06T00:00:00.000Z',
      upload: { part_size: 5, renewals: 0 },
      rules: [{ max_size: 10, content_types: ['image/*'] }, {}],
      metadata: { album_name: 'x', camelName: 'y' },
      headers: { 'Content-Type': 'text/plain', 'x-amz-meta-fooBar': '1' },
      constraints: { max_size: 10, content_types: ['a/b'] },
      sha256: null,
    } satisfies Wire<Sample>;
    assert.deepEqual(toWire(value), wire);
    assert.deepEqual(fromWire<Sample>(wire), value);
  });

  it('drops absent optional fields', () => {
    assert.deepEqual(toWire({ maxSize: undefined, minSize: 1 }), { min_size: 1 });
  });

  it('round-trips any camelCase body', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9]{0,6}([A-Z][a-z]{1,6}){0,3}$/);
    const leaf = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
    const body = fc.letrec((tie) => ({
      node: fc.dictionary(name, fc.oneof(leaf, fc.array(tie('node'), { maxLength: 2 }), tie('node')), {
        maxKeys: 4,
        noNullPrototype: true,
      }),
    })).node;
    fc.assert(
      fc.property(body, (value) => {
        assert.deepEqual(fromWire(toWire(value)), value);
      }),
    );
  });
});
