/** The outcome of reading a `Range` header against an object of known size. */
export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const FULL: RangeResult = { kind: 'full' };
const UNSATISFIABLE: RangeResult = { kind: 'unsatisfiable' };
const SINGLE = /^(\d*)-(\d*)$/;

/**
 * Reads a `Range` header (RFC 9110 §14) for an object of `size` bytes. Valet serves single byte
 * ranges only. `end` is inclusive.
 *
 * - No header, another unit, a syntactically invalid range or a multi-range request: `full`.
 *   (RFC 9110 §14.2: "A server MAY ignore the Range header field"; an invalid one is ignored.)
 * - `bytes=a-b` with `a <= b`: clamped to the object; `a >= size` is unsatisfiable.
 * - `bytes=a-`: from `a` to the end; `a >= size` is unsatisfiable.
 * - `bytes=-n`: the last `n` bytes; `n = 0` is unsatisfiable (§14.1.3). Of an empty object,
 *   `bytes=-n` (n > 0) is the one satisfiable range (§14.1.1): answered with the whole, empty,
 *   object; any other range of it is unsatisfiable.
 *
 * @example
 * ```ts
 * parseRange('bytes=0-99', 1000) // { kind: 'partial', start: 0, end: 99 }
 * parseRange('bytes=-0', 1000)   // { kind: 'unsatisfiable' }
 * ```
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return FULL;
  const eq = header.indexOf('=');
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return FULL;
  const spec = header.slice(eq + 1);
  if (spec.includes(',')) return FULL;
  const match = SINGLE.exec(spec.trim());
  if (!match) return FULL;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return FULL;
  if (first === '') {
    const suffix = toNumber(last);
    if (suffix === 0) return UNSATISFIABLE;
    // §14.1.1: of an empty object, a non-zero suffix range is the one satisfiable form. It
    // selects nothing a Content-Range can name, so the whole (empty) object is sent with 200.
    if (size === 0) return FULL;
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = toNumber(first);
  const end = last === '' ? Number.POSITIVE_INFINITY : toNumber(last);
  if (end < start) return FULL;
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

/** Decimal digits to a number; more digits than a safe integer holds count as infinity. */
function toNumber(digits: string): number {
  const value = Number(digits);
  return Number.isSafeInteger(value) ? value : Number.POSITIVE_INFINITY;
}
