/**
 * Text every part of Valet can carry: no NUL character (PostgreSQL's `text` and `jsonb` cannot
 * hold one) and no unpaired surrogate (it has no UTF-8 encoding, so no URL, header, file or
 * database can hold it either). Checked where text enters (paths, queries, bodies, subjects),
 * so both record stores answer such input alike: `400`, never a `500` from the database.
 */

const UNPAIRED = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * True if `text` holds neither a NUL character nor an unpaired surrogate.
 *
 * @example
 * ```ts
 * storableText('café') // true
 * storableText('a\u0000b') // false
 * storableText('\ud800') // false
 * ```
 */
export function storableText(text: string): boolean {
  return !text.includes('\u0000') && !UNPAIRED.test(text);
}

/** Why `text` is not storable, in words, or undefined if it is. */
export function unstorableReason(text: string): string | undefined {
  if (text.includes('\u0000')) return 'a NUL character';
  if (UNPAIRED.test(text)) return 'an unpaired surrogate (not Unicode text)';
  return undefined;
}

/**
 * The first string in a parsed JSON value (keys included) that is not storable: where it is (a
 * path like `rules.0.name`, or `(the body)`) and why; undefined if every one is.
 */
export function findUnstorable(value: unknown, at = ''): { at: string; reason: string } | undefined {
  if (typeof value === 'string') {
    const reason = unstorableReason(value);
    return reason === undefined ? undefined : { at: at || '(the body)', reason };
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [name, inner] of Object.entries(value)) {
    const where = at === '' ? name : `${at}.${name}`;
    const reason = unstorableReason(name);
    if (reason !== undefined) return { at: where, reason };
    const found = findUnstorable(inner, where);
    if (found) return found;
  }
  return undefined;
}
