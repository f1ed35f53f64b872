import { contentTypeAllowed } from './claims.js';
import { ValetError } from './errors.js';
import { formatBytes } from './units.js';

/**
 * Size and type limits of an upload, and their refusals in words: one place for the issuer
 * (a request against its rule; an object against its key, at completion) and for storage (a
 * request against its key, before and while the body arrives). Sizes are said in the units
 * people read (`1 MiB`), always with the limit that was broken.
 */

/** What a rule or a key limits of an upload (a key's claims: `size`, `max_size`, `min_size`, `content_types`). */
export interface Limits {
  /** The exact size. */
  size?: number;
  maxSize?: number;
  minSize?: number;
  contentTypes?: readonly string[];
}

/** A key's limits, from its claims (or a grant's constraints). */
export function limitsOfClaims(c: {
  size?: number;
  max_size?: number;
  min_size?: number;
  content_types?: readonly string[];
}): Limits {
  return {
    ...(c.size !== undefined && { size: c.size }),
    ...(c.max_size !== undefined && { maxSize: c.max_size }),
    ...(c.min_size !== undefined && { minSize: c.min_size }),
    ...(c.content_types !== undefined && { contentTypes: c.content_types }),
  };
}

/** The bytes a body may have at most and at least: the tighter of the exact size and the range. */
export function sizeRange(limits: Limits): { max: number | undefined; min: number | undefined } {
  const { size, maxSize, minSize } = limits;
  return {
    max: size === undefined ? maxSize : maxSize === undefined ? size : Math.min(size, maxSize),
    min: size === undefined ? minSize : minSize === undefined ? size : Math.max(size, minSize),
  };
}

/** The refusal for a body over `max` bytes; `what` names it ("the body", "the file (2 MiB)", "it"). */
export function tooLarge(what: string, max: number): ValetError {
  return new ValetError('entity_too_large', `${what} is larger than the ${formatBytes(max)} limit`);
}

/** The refusal for a body under `min` bytes. */
export function tooSmall(what: string, min: number): ValetError {
  return new ValetError('entity_too_small', `${what} is smaller than the ${formatBytes(min)} minimum`);
}

/**
 * The first size limit `size` breaks, as its refusal, or undefined. An exact size is said as such
 * when there is no range to say it with.
 */
export function sizeRefusal(limits: Limits, size: number, what: string): ValetError | undefined {
  const { max, min } = sizeRange(limits);
  if (
    limits.size !== undefined &&
    size !== limits.size &&
    limits.maxSize === undefined &&
    limits.minSize === undefined
  )
    return new ValetError(
      size > limits.size ? 'entity_too_large' : 'entity_too_small',
      `${what} is not the ${formatBytes(limits.size)} the key allows`,
    );
  if (max !== undefined && size > max) return tooLarge(what, max);
  if (min !== undefined && size < min) return tooSmall(what, min);
  return undefined;
}

/**
 * The refusal for a content type the limits do not allow, or undefined. `contentType` undefined:
 * a body without a type, which a list of allowed types refuses. `label` names it in the refusal
 * (default: the type itself).
 */
export function typeRefusal(
  limits: Limits,
  contentType: string | undefined,
  label = contentType ?? 'a file without a type',
): ValetError | undefined {
  const allowed = limits.contentTypes;
  if (!allowed) return undefined;
  if (
    contentType !== undefined &&
    contentTypeAllowed(
      contentType,
      allowed.map((t) => t.toLowerCase()),
    )
  )
    return undefined;
  return new ValetError(
    'unsupported_media_type',
    `${label} is not allowed here; allowed: ${allowed.join(', ')}`,
  );
}
