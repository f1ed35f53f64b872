import { isMediaRange, mediaTypeEssence, type ValetClaims } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { limitsOfClaims, sizeRange, sizeRefusal, typeRefusal } from '../../token/limits.js';
import { metaFits } from '../disk/object-file.js';
import type { FileStore } from '../disk/store.js';

// A Content-Type value: type/subtype, then optional parameters of printable ASCII.
const CONTENT_TYPE_PARAMS =
  /^(;\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+=("[\x20-\x7e]*"|[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*)*$/;

/**
 * What a put key allows that can be checked before any byte arrives, for a PUT and a tus creation
 * alike: the content type (well formed, and one the key allows) and the declared size against the
 * key's limits. Returns the size limits, which are enforced again while the bytes arrive.
 */
export function checkPutStart(
  claims: ValetClaims,
  contentType: string | undefined,
  malformedType: string,
  declared: number | undefined,
): { maxSize: number | undefined; minSize: number | undefined } {
  if (contentType !== undefined && !validContentType(contentType)) {
    throw new ValetError('bad_request', malformedType);
  }
  const limits = limitsOfClaims(claims);
  const badType = typeRefusal(limits, contentType);
  if (badType) throw badType;
  const badSize = declared === undefined ? undefined : sizeRefusal(limits, declared, 'the body');
  if (badSize) throw badSize;
  const { max: maxSize, min: minSize } = sizeRange(limits);
  // What the object will keep must fit its 4 KiB header: checked now, not after the whole body.
  const worstCase = {
    key: claims.obj,
    size: Number.MAX_SAFE_INTEGER,
    contentType: contentType?.trim() ?? 'application/octet-stream',
    sha256: 'f'.repeat(64),
    etag: `"${'f'.repeat(64)}"`,
    created: Number.MAX_SAFE_INTEGER,
    subject: claims.sub,
    keyId: claims.jti,
  };
  if (!metaFits(worstCase)) {
    throw new ValetError(
      'bad_request',
      'the object key, the key subject and the content type together exceed the 4 KiB an object keeps',
    );
  }
  return { maxSize, minSize };
}

/** A create-only key is refused up front when its object exists (the commit checks again). */
export async function refuseIfExists(store: FileStore, claims: ValetClaims): Promise<void> {
  if (claims.no_overwrite && (await store.exists(claims.obj))) {
    throw new ValetError('precondition_failed', 'the object already exists and the key is create-only');
  }
}

function validContentType(value: string): boolean {
  if (value.length > 255) return false;
  const semi = value.indexOf(';');
  const essence = mediaTypeEssence(value);
  const params = semi === -1 ? '' : value.slice(semi).trim();
  return isMediaRange(essence) && !essence.endsWith('/*') && CONTENT_TYPE_PARAMS.test(params);
}
