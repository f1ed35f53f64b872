import * as fs from 'node:fs/promises';
import { OPERATIONS, type Operation } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import { importSigningKey } from '../../token/keys.js';
import { keyUrl, mintValetKey } from '../../token/mint.js';
import { type Command, many, optional, parseSize, parseWholeSeconds, required, UsageError } from '../args.js';

export const mint: Command = {
  name: 'mint',
  summary: 'mint a valet key and print the signed URL',
  help: `Usage: valet mint --key FILE --storage URL --op get|head|put|delete --object KEY --ttl DURATION
                  [--subject NAME] [--max-size BYTES] [--min-size BYTES] [--size BYTES]
                  [--content-type TYPE]… [--sha256 HEX] [--once] [--no-overwrite]
                  [--filename NAME] [--inline | --attachment]

Signs a valet key for one operation on one object and prints the URL that uses it
(STORAGE/o/KEY?vk=TOKEN) on stdout.

Options:
  --key FILE            private signing key from "valet keygen" (required)
  --storage URL         base URL of the storage server (required)
  --op OP               get, head, put or delete (required)
  --object KEY          the object key (required)
  --ttl DURATION        lifetime: 90s, 5m, 1h (required; storage refuses over its --max-ttl)
  --subject NAME        who the key is for, recorded by storage (default: cli)
  --max-size BYTES      put: largest body (units: KiB, MiB, GiB, KB, MB, GB)
  --min-size BYTES      put: smallest body
  --size BYTES          put: exact body size
  --content-type TYPE   put: allowed media type, exact or type/* (repeatable)
  --sha256 HEX          put: SHA-256 the body must have
  --once                single use
  --no-overwrite        put: create only, refuse if the object exists
  --filename NAME       get/head: download file name
  --inline              get/head: serve inline whatever the type (still sandboxed)
  --attachment          get/head: always serve as a download
  -h, --help            show this help`,
  options: {
    key: { type: 'string' },
    storage: { type: 'string' },
    op: { type: 'string' },
    object: { type: 'string' },
    ttl: { type: 'string' },
    subject: { type: 'string' },
    'max-size': { type: 'string' },
    'min-size': { type: 'string' },
    size: { type: 'string' },
    'content-type': { type: 'string', multiple: true },
    sha256: { type: 'string' },
    once: { type: 'boolean' },
    'no-overwrite': { type: 'boolean' },
    filename: { type: 'string' },
    inline: { type: 'boolean' },
    attachment: { type: 'boolean' },
  },
  async run(values) {
    const keyFile = required(values, 'key');
    const storage = required(values, 'storage');
    const op = required(values, 'op');
    const object = required(values, 'object');
    const ttl = parseWholeSeconds(required(values, 'ttl'), '--ttl');
    if (!OPERATIONS.includes(op as Operation))
      throw new UsageError(`--op must be one of ${OPERATIONS.join(', ')}`);
    if (!/^https?:\/\/[^?#]+$/.test(storage))
      throw new UsageError('--storage must be an http(s) URL with no query');
    if (values.inline && values.attachment)
      throw new UsageError('--inline and --attachment exclude each other');
    const size = (flag: string) => {
      const text = optional(values, flag);
      return text === undefined ? undefined : parseSize(text, `--${flag}`);
    };
    const [maxSize, minSize, exactSize] = [size('max-size'), size('min-size'), size('size')];
    const sha256 = optional(values, 'sha256');
    if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256))
      throw new UsageError('--sha256 must be 64 hex digits');
    const contentTypes = many(values, 'content-type');

    let jwk: unknown;
    try {
      jwk = JSON.parse(await fs.readFile(keyFile, 'utf8'));
    } catch (cause) {
      throw new ValetError('invalid_options', `${keyFile}: ${(cause as Error).message}`, { cause });
    }
    const signingKey = await importSigningKey(jwk);
    const token = await mintValetKey(signingKey, {
      op: op as Operation,
      object,
      subject: optional(values, 'subject') ?? 'cli',
      ttl,
      maxSize,
      minSize,
      size: exactSize,
      contentTypes: contentTypes.length > 0 ? contentTypes : undefined,
      sha256,
      once: values.once === true,
      noOverwrite: values['no-overwrite'] === true,
      filename: optional(values, 'filename'),
      inline: values.inline ? true : values.attachment ? false : undefined,
    });
    process.stdout.write(`${keyUrl(storage, object, token)}\n`);
    return 0;
  },
};
