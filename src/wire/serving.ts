import { mediaTypeEssence } from '../token/claims.js';

/**
 * Headers that make it safe to serve what users uploaded from the storage origin.
 *
 * - `X-Content-Type-Options: nosniff`: the browser never guesses a more dangerous type.
 * - `Content-Disposition: attachment` unless the type is on {@link isInlineType}'s short list or
 *   the key says `inline`; an uploaded `text/html` or `image/svg+xml` downloads, it never renders.
 * - A sandboxing `Content-Security-Policy`, so that even a document that does render (the key
 *   forced inline) runs no script, loads nothing and has an opaque origin.
 * - `Referrer-Policy: no-referrer`: the URL may carry a valet key; it must not leak onwards.
 */
export const DOWNLOAD_CSP =
  "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox";

/** Inline by default: raster images, audio, video and PDF. Nothing that runs script in the page. */
const INLINE_EXACT = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'application/pdf',
]);

/** True if a content type is served inline by default. */
export function isInlineType(contentType: string): boolean {
  const essence = mediaTypeEssence(contentType);
  return INLINE_EXACT.has(essence) || essence.startsWith('audio/') || essence.startsWith('video/');
}

// RFC 5987 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
// encodeURIComponent leaves ' ( ) * unescaped, which attr-char does not allow.
function encodeRfc5987(value: string): string {
  // An unpaired surrogate has no UTF-8 form (encodeURIComponent would throw): U+FFFD instead. Keys
  // refuse such names; this keeps an answer from failing whatever a name holds.
  const text = value.replace(
    /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
  return encodeURIComponent(text).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}

/**
 * A `Content-Disposition` value (RFC 6266) with an ASCII `filename` fallback and, when the name is
 * not plain ASCII, a UTF-8 `filename*` (RFC 5987).
 *
 * @example
 * ```ts
 * contentDisposition('attachment', 'résumé.pdf')
 * // `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`
 * ```
 */
export function contentDisposition(type: 'inline' | 'attachment', filename: string): string {
  // quoted-string fallback: printable ASCII without the quote, the backslash and `%` (which some
  // browsers would percent-decode), everything else becomes `_`.
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/gu, '_');
  if (fallback === filename) return `${type}; filename="${filename}"`;
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encodeRfc5987(filename)}`;
}

/** The last segment of an object key: its default download name. */
export function defaultFilename(objectKey: string): string {
  return objectKey.slice(objectKey.lastIndexOf('/') + 1);
}

/**
 * The `response-content-type` a GET signs: the object's type when it is one a browser only
 * displays (raster images, audio, video, PDF, plain text), else `application/octet-stream`, so
 * that nothing uploaded is ever served as HTML, SVG or script from the bucket's origin.
 */
export function safeResponseType(contentType: string | undefined): string {
  const essence = mediaTypeEssence(contentType ?? '');
  // Valet storage's own inline list (raster images, audio, video, PDF), and plain text.
  return essence !== '' && (isInlineType(essence) || essence === 'text/plain')
    ? essence
    : 'application/octet-stream';
}
