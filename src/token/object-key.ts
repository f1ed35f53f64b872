import { ValetError } from './errors.js';

/** Longest object key, in UTF-8 bytes. */
export const MAX_OBJECT_KEY_BYTES = 1024;
/** Longest segment of an object key, in UTF-8 bytes. */
export const MAX_SEGMENT_BYTES = 255;

// C0 controls, DEL and C1 controls (Unicode general category Cc).
const CONTROL = /\p{Cc}/u;
// With the `u` flag a lone surrogate is one code point of category Cs: such a string has no UTF-8 form.
const LONE_SURROGATE = /\p{Cs}/u;

/** Length of a well-formed string in UTF-8 bytes, without allocating. */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4; // a surrogate pair is one code point of 4 bytes
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Checks an object key against Valet's naming rules and returns its canonical form (Unicode NFC).
 *
 * A key is a `/`-separated path of segments: valid UTF-8 (no lone surrogates), NFC-normalised,
 * at most 1024 bytes in all and 255 bytes a segment, no empty, `.` or `..` segment, no control
 * character and no backslash. Throws `invalid_object_key` otherwise.
 *
 * The rules make a key safe to show and to use as a download name; they are not what keeps
 * storage inside its data directory (storage never uses a key as a path, see `storage/disk/store.ts`).
 *
 * @example
 * ```ts
 * normalizeObjectKey('users/alice/cafe\u0301.txt') // 'users/alice/café.txt'
 * normalizeObjectKey('a/../b') // throws ValetError('invalid_object_key')
 * ```
 */
export function normalizeObjectKey(input: string): string {
  if (typeof input !== 'string' || input.length === 0) {
    throw invalid('an object key must be a non-empty string');
  }
  if (LONE_SURROGATE.test(input)) throw invalid('an object key must be valid UTF-8');
  const key = input.normalize('NFC');
  if (utf8Length(key) > MAX_OBJECT_KEY_BYTES) {
    throw invalid(`an object key is at most ${MAX_OBJECT_KEY_BYTES} bytes`);
  }
  if (CONTROL.test(key)) throw invalid('an object key may not contain control characters');
  if (key.includes('\\')) throw invalid('an object key may not contain a backslash');
  for (const segment of key.split('/')) {
    if (segment === '') throw invalid('an object key may not have an empty segment');
    if (segment === '.' || segment === '..') throw invalid('an object key may not have a . or .. segment');
    if (utf8Length(segment) > MAX_SEGMENT_BYTES) {
      throw invalid(`an object key segment is at most ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
  return key;
}

/** True if `input` is a valid object key already in canonical (NFC) form. */
export function isCanonicalObjectKey(input: string): boolean {
  try {
    return normalizeObjectKey(input) === input;
  } catch {
    return false;
  }
}

/**
 * Percent-encodes an object key for a URL path, segment by segment, keeping `/` as separator.
 *
 * @example
 * ```ts
 * encodeObjectKeyPath('a b/é') // 'a%20b/%C3%A9'
 * ```
 */
export function encodeObjectKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * Decodes the object-key part of a URL path (exactly one round of percent-decoding) and
 * normalises it. `%2F` decodes to `/` and so names the same key as a literal slash; `%252e`
 * decodes to the three characters `%2e`, never to a dot.
 */
export function decodeObjectKeyPath(rawPath: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch (cause) {
    throw new ValetError('invalid_object_key', 'the object key is not valid percent-encoded UTF-8', {
      cause,
    });
  }
  return normalizeObjectKey(decoded);
}

function invalid(message: string): ValetError {
  return new ValetError('invalid_object_key', message);
}
