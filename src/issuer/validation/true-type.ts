import { fileTypeFromBuffer, supportedMimeTypes } from 'file-type';
import { contentTypeAllowed, mediaTypeEssence } from '../../token/claims.js';
import { readPrefix, type ValidatedObject, type Validator, type ValidatorVerdict } from './validators.js';

/**
 * How many bytes the true-type check reads: the signatures `file-type` knows sit in the first few
 * KiB (it asks for 4100 bytes); container formats (Office documents in a ZIP) name their kind a
 * little further on. Never more, whatever the object's size.
 */
export const TRUE_TYPE_PREFIX = 64 * 1024;

/** Types a client declares for "any bytes": the check then asks only that the rule allows what they are. */
const GENERIC_DECLARED = new Set(['application/octet-stream', 'binary/octet-stream']);

/**
 * Detections that name a container, not a format: a declared format built on it is no mismatch
 * when only the container is seen (a `.docx` is a ZIP archive; an old `.doc` a CFB file).
 */
const CONTAINERS: Record<string, RegExp> = {
  'application/zip':
    /^application\/(vnd\.openxmlformats-officedocument\.|vnd\.oasis\.opendocument\.|epub\+zip|java-archive|vnd\.android\.package-archive|x-xpinstall|zip$)/,
  'application/x-cfb': /^application\/(msword|vnd\.ms-|x-msi)/,
};

/** Names by which clients declare the same type `file-type` names otherwise. */
const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/x-png': 'image/png',
  'image/x-ms-bmp': 'image/bmp',
  'image/vnd.microsoft.icon': 'image/x-icon',
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/mp3': 'audio/mpeg',
  'application/x-zip-compressed': 'application/zip',
  'application/x-pdf': 'application/pdf',
  'video/x-m4v': 'video/mp4',
};

function canonical(type: string): string {
  const essence = mediaTypeEssence(type);
  return ALIASES[essence] ?? essence;
}

/**
 * The true type of an upload, from its first bytes ({@link TRUE_TYPE_PREFIX}) with `file-type`:
 * what the bytes are must be what the upload declared, and a type its rule allows. A declared
 * type `file-type` can recognise must be recognised (HTML declared `image/png` has no PNG
 * signature: rejected). Text formats (HTML, SVG, CSV, JSON, plain text) have no signature: a
 * declared text type is taken as declared unless the bytes are a binary format it can see
 * (docs/validation.md has the table).
 */
export const trueType: Validator = {
  name: 'type',
  async check(object, open): Promise<ValidatorVerdict> {
    const prefix = await readPrefix(await open(), TRUE_TYPE_PREFIX);
    const found = await fileTypeFromBuffer(prefix);
    return judge(object, found && { mime: canonical(found.mime), ext: found.ext });
  },
};

/** The verdict for an object whose bytes `file-type` saw as `found` (or as nothing it knows). */
export function judge(
  object: ValidatedObject,
  found: { mime: string; ext: string } | undefined,
): ValidatorVerdict {
  const declared = canonical(object.contentType);
  const generic = GENERIC_DECLARED.has(declared);
  if (!found) {
    if (!generic && supportedMimeTypes.has(declared as never)) {
      return {
        reject: `its content is not ${declared}: it does not begin the way every ${declared} file does`,
      };
    }
    return { ok: true };
  }
  const described = `${found.mime} (a .${found.ext} file)`;
  if (!generic && found.mime !== declared && !CONTAINERS[found.mime]?.test(declared)) {
    return { reject: `its content is ${described}, not ${declared} as declared` };
  }
  // A declared type was held to the key's types by the store; "any bytes" is held here.
  if (generic && object.allowedTypes && !contentTypeAllowed(found.mime, object.allowedTypes)) {
    return {
      reject: `its content is ${described}, which this upload may not be (${object.allowedTypes.join(', ')})`,
    };
  }
  return { ok: true };
}
