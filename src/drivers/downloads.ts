import type { ValetClaims } from '../token/claims.js';
import { contentDisposition, defaultFilename, isInlineType, safeResponseType } from '../wire/serving.js';

/**
 * What a store is told to answer a read key with, for stores that serve the type and disposition
 * a signed read names (Azure's `rsct`/`rscd`, GCS's `response-content-*`): the recorded type if a
 * browser only displays it, else `application/octet-stream`; `inline` for such a type unless the
 * key asks for a download; the key's file name, else the object's last segment.
 */
export function safeDownload(
  claims: Pick<ValetClaims, 'inline' | 'filename'>,
  recordedType: string | undefined,
  object: string,
): { contentType: string; disposition: string } {
  const contentType = safeResponseType(recordedType);
  const inline = claims.inline ?? isInlineType(contentType);
  return {
    contentType,
    disposition: contentDisposition(
      inline ? 'inline' : 'attachment',
      claims.filename ?? defaultFilename(object),
    ),
  };
}
