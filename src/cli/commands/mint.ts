import * as fs from 'node:fs/promises';
import { KEY_ID, OPERATIONS, type Operation } from '../../token/claims.js';
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
                  [--resumable | --upload ID] [--filename NAME] [--inline | --attachment] [--json]

Signs a valet key for one operation on one object and prints the URL that uses it
(STORAGE/o/KEY?vk=TOKEN) on stdout. A resumable key prints STORAGE/uploads?vk=TOKEN (create
the tus upload there), a key for an upload STORAGE/uploads/ID?vk=TOKEN.

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
  --resumable           put: the key creates one resumable (tus) upload, whose id is the key's id
  --upload ID           put: the key continues the resumable upload ID
  --filename NAME       get/head: download file name
  --inline              get/head: serve inline whatever the type (still sandboxed)
  --attachment          get/head: always serve as a download
  --json                print {"url"} (the URL holds the key: keep it out of logs)
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
    resumable: { type: 'boolean' },
    upload: { type: 'string' },
    filename: { type: 'string' },
    inline: { type: 'boolean' },
    attachment: { type: 'boolean' },
    json: { type: 'boolean' },
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
    const upload = optional(values, 'upload');
    if (upload !== undefined && !KEY_ID.test(upload)) {
      throw new UsageError('--upload must be an upload id (16 to 128 of A-Z a-z 0-9 _ -)');
    }

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
      resumable: values.resumable === true,
      upload,
      filename: optional(values, 'filename'),
      inline: values.inline ? true : values.attachment ? false : undefined,
    });
    const base = storage.replace(/\/+$/, '');
    const url = values.resumable
      ? `${base}/uploads?vk=${token}`
      : upload !== undefined
        ? `${base}/uploads/${upload}?vk=${token}`
        : keyUrl(storage, object, token);
    process.stdout.write(values.json ? `${JSON.stringify({ url })}\n` : `${url}\n`);
    return 0;
  },
};
