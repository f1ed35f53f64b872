import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openFile } from '../../client/node.js';
import { ValetError } from '../../token/errors.js';
import { type Command, optional, parseSize, required, UsageError } from '../args.js';
import { progressBar, REMOTE_HELP, REMOTE_OPTIONS, remoteClient } from '../remote.js';

// Common types by extension; anything else is sent as application/octet-stream.
const TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
};

export const upload: Command = {
  name: 'upload',
  summary: 'upload a file straight to storage with a key from the issuer',
  help: `Usage: valet upload FILE --issuer URL --token TOKEN [--name NAME] [--content-type TYPE]
                    [--rule RULE] [--chunk-size 64MiB] [--json]

Asks the issuer for an upload key, then streams FILE straight to storage (never through the
issuer). The file's SHA-256 is computed first and bound into the key, so storage refuses a
body that was changed on the way. Prints the object key; with --json one line
{"key":…,"size":…,"sha256":…}. A progress bar is shown on a terminal.

Files of 8 MiB and more are sent as a resumable upload, in chunks: a dropped connection is
retried from where storage stopped, and running the same command again after an interruption
resumes the upload (unfinished uploads are remembered in ~/.valet/uploads.json, or
$VALET_STATE_DIR/uploads.json: their URLs only, never a key).

Options:
${REMOTE_HELP}
  --name NAME          the object name to ask for (default: the file's name)
  --content-type TYPE  the content type (default: from the extension, else none)
  --rule RULE          the issuer rule to use (default: the first that allows it)
  --chunk-size SIZE    bytes per request of a resumable upload (default 64MiB)
  --json               print the result as JSON
  -h, --help           show this help`,
  options: {
    ...REMOTE_OPTIONS,
    name: { type: 'string' },
    'content-type': { type: 'string' },
    rule: { type: 'string' },
    'chunk-size': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals) {
    const file = onePositional(positionals, 'FILE');
    const chunkText = optional(values, 'chunk-size');
    const client = remoteClient(
      values,
      chunkText === undefined ? {} : { chunkSize: parseSize(chunkText, '--chunk-size') },
    );
    let stat: Awaited<ReturnType<typeof fs.stat>>;
    try {
      stat = await fs.stat(file);
    } catch {
      throw new UsageError(`cannot read ${file}`);
    }
    if (!stat.isFile()) throw new UsageError(`${file} is not a regular file`);
    const contentType = optional(values, 'content-type') ?? TYPES[path.extname(file).toLowerCase()];
    const sha256 = await fileSha256(file);
    const blob = await openFile(file, contentType ? { type: contentType } : {});
    const bar = progressBar('upload');
    const rule = optional(values, 'rule');
    const result = await client
      .upload(blob, {
        name: optional(values, 'name') ?? path.basename(file),
        ...(contentType !== undefined && { contentType }),
        ...(rule !== undefined && { rule }),
        sha256,
        // The same file (path, size, modification time, content) resumes its earlier upload.
        fingerprint: `file:${path.resolve(file)}:${stat.size}:${stat.mtimeMs}:${sha256}`,
        onResume: ({ offset, total }) =>
          process.stderr.write(`resuming an earlier upload: ${offset} of ${total} bytes already stored\n`),
        onProgress: (p) => bar.update(p.loaded, p.total),
      })
      .finally(() => bar.done());
    process.stdout.write(
      values.json
        ? // A store that keeps no checksum reports none: the file's own digest, computed above.
          `${JSON.stringify({ key: result.key, size: result.size, sha256: result.sha256 || sha256 })}\n`
        : `${result.key}\n`,
    );
    return 0;
  },
};

export const download: Command = {
  name: 'download',
  summary: 'download an object straight from storage into a file',
  help: `Usage: valet download KEY --issuer URL --token TOKEN --out FILE

Asks the issuer for a read key, then streams the object from storage into FILE. The bytes go
to a temporary file next to FILE, are checked against the object's SHA-256, and only then
renamed to FILE: an interrupted or corrupt download never leaves a partial FILE.

Options:
${REMOTE_HELP}
  --out FILE           where to write the object (required)
  -h, --help           show this help`,
  options: { ...REMOTE_OPTIONS, out: { type: 'string' } },
  positionals: true,
  async run(values, positionals) {
    const key = onePositional(positionals, 'KEY');
    const out = path.resolve(required(values, 'out'));
    const client = remoteClient(values);
    const object = await client.download(key);
    const temp = path.join(
      path.dirname(out),
      `.${path.basename(out)}.${randomBytes(6).toString('hex')}.part`,
    );
    const hash = createHash('sha256');
    const bar = progressBar('download');
    let loaded = 0;
    try {
      await pipeline(
        Readable.fromWeb(object.body as import('node:stream/web').ReadableStream<Uint8Array>),
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            loaded += chunk.length;
            bar.update(loaded, object.size);
            callback(null, chunk);
          },
        }),
        createWriteStream(temp, { flags: 'wx', mode: 0o644 }),
      );
      const expected = /^"([0-9a-f]{64})"$/.exec(object.etag)?.[1];
      if (expected !== undefined && hash.digest('hex') !== expected) {
        throw new ValetError('bad_digest', "the downloaded bytes do not match the object's SHA-256");
      }
      const handle = await fs.open(temp, 'r');
      await handle.sync();
      await handle.close();
      await fs.rename(temp, out);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    } finally {
      bar.done();
    }
    return 0;
  },
};

function onePositional(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${name}`);
  return positionals[0] as string;
}

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}
