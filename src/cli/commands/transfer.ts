import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Download } from '../../client/client.js';
import { openFile } from '../../client/node.js';
import { ValetError } from '../../token/errors.js';
import { formatBytes } from '../../token/units.js';
import { type Command, optional, parseSize, UsageError } from '../args.js';
import { KEY_HELP, onObject } from '../names.js';
import { CliError, printJson, printLines, withHint } from '../output.js';
import { progressBar } from '../progress.js';
import { REMOTE_HELP, REMOTE_OPTIONS, remoteClient } from '../remote.js';

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
                    [--rule RULE] [--chunk-size 64MiB] [--no-wait] [--json]

Asks the issuer for an upload key, then streams FILE straight to storage (never through the
issuer). The issuer is asked first whether the upload is allowed (rule, size, type, quota), so a
refusal comes before the file is read; then its SHA-256 is computed ("hashing") and bound into
the key, so storage refuses a body that was changed on the way. Ctrl-C says how much was sent
and exits with 130; running the same command again resumes. Prints the object's full key (NAME under your
prefix, e.g. users/alice/NAME); with --json one line {"key","size","sha256","etag",
"content_type"}. On a terminal a progress bar shows each phase with its speed and time left.

Files of 8 MiB and more are sent as a resumable upload, in chunks: a dropped connection is
retried from where storage stopped, and running the same command again after an interruption
resumes the upload (unfinished uploads are remembered in ~/.valet/uploads.json, or
$VALET_STATE_DIR/uploads.json: their URLs only, never a key).

An upload whose rule validates it (its true type, a virus scan, the app's own check) is readable
only once it passes: the command says "checking" and waits for the verdict, and exits with 1 and
the reason ("content_rejected: … ClamAV found …") if it is rejected. --no-wait returns as soon as
storage has it (JSON: "validation":"pending").

Options:
${REMOTE_HELP}
  --name NAME          the object name to ask for, under your prefix (default: the file's name)
  --content-type TYPE  the content type (default: from the extension, else none)
  --rule RULE          the issuer rule to use (default: the first that allows it)
  --chunk-size SIZE    bytes per request of a resumable upload (default 64MiB)
  --no-wait            do not wait for the verdict of an upload being validated
  --json               print the result as JSON
  -h, --help           show this help`,
  options: {
    ...REMOTE_OPTIONS,
    name: { type: 'string' },
    'content-type': { type: 'string' },
    rule: { type: 'string' },
    'chunk-size': { type: 'string' },
    'no-wait': { type: 'boolean' },
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
    const name = optional(values, 'name') ?? path.basename(file);
    const rule = optional(values, 'rule');
    const asked = {
      name,
      ...(contentType !== undefined && { contentType }),
      ...(rule !== undefined && { rule }),
    };
    // The issuer is asked first (rule, size, type, quota): a refusal comes before the file is read.
    await client.checkUpload({ size: stat.size }, asked);
    const interrupt = interruption();
    const sha256 = await interrupt.during(fileSha256(file, stat.size), () => 'nothing was sent yet');
    const blob = await openFile(file, contentType ? { type: contentType } : {});
    const bar = progressBar('upload');
    let sent = 0;
    // --no-wait: once storage has it, the SDK's watch for the verdict is stopped (nobody waits).
    const returned = new AbortController();
    const uploading = client
      .upload(blob, {
        ...asked,
        signal: AbortSignal.any([interrupt.signal, returned.signal]),
        sha256,
        // The same file (path, size, modification time, content) resumes its earlier upload.
        fingerprint: `file:${path.resolve(file)}:${stat.size}:${stat.mtimeMs}:${sha256}`,
        onResume: ({ offset, total }) =>
          process.stderr.write(
            `resuming an earlier upload: ${formatBytes(offset)} of ${formatBytes(total)} already stored\n`,
          ),
        onProgress: (p) => {
          sent = p.loaded;
          bar.update(p.loaded, p.total);
        },
        ...(values['no-wait'] === true && { awaitValidation: false }),
        onValidation: (state) => {
          if (state.status !== 'pending') return;
          bar.done();
          process.stderr.write(
            values['no-wait']
              ? `${state.object}: stored; being checked before anyone may read it (not waiting)\n`
              : `${state.object}: stored; checking before anyone may read it…\n`,
          );
        },
      })
      .finally(() => bar.done());
    const resumable = stat.size >= RESUMABLE_FROM;
    const result = await interrupt.during(uploading, () =>
      resumable
        ? `${formatBytes(sent)} of ${formatBytes(stat.size)} sent; run the same command again to resume`
        : 'nothing was stored; run the same command again to upload it',
    );
    returned.abort();
    if (values.json)
      printJson({
        object: result.object,
        // The same as object, for one release (docs/issuer.md).
        key: result.object,
        size: result.size,
        // A store that keeps no checksum reports none: the file's own digest, computed above.
        sha256: result.sha256 || sha256,
        etag: result.etag,
        content_type: result.contentType,
        ...(result.validation && { validation: result.validation }),
      });
    else printLines(result.object);
    return 0;
  },
};

export const download: Command = {
  name: 'download',
  summary: 'download an object straight from storage into a file',
  help: `Usage: valet download KEY --issuer URL --token TOKEN [--out FILE] [--force] [--json]

Asks the issuer for a read key, then streams the object from storage into FILE (default: the
last part of its key, in the current directory). ${KEY_HELP}
The bytes go to a temporary file next to FILE, are checked against the object's SHA-256, and
only then take FILE's name: an interrupted or corrupt download never leaves a partial FILE. An
existing FILE is kept unless --force. With --json one line {"key","size","sha256","file"}.

Options:
${REMOTE_HELP}
  --out FILE           where to write the object (default: its own name, here)
  --force              replace FILE if it exists
  --json               print JSON
  -h, --help           show this help`,
  options: {
    ...REMOTE_OPTIONS,
    out: { type: 'string' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: true,
  async run(values, positionals) {
    const given = onePositional(positionals, 'KEY');
    const client = remoteClient(values);
    const outFor = (key: string) => path.resolve(optional(values, 'out') ?? path.posix.basename(key));
    const force = values.force === true;
    // Refused before any byte moves when the name it would take is already there.
    if (!force) await refuseExisting(outFor(given));
    const { key, value: object } = await onObject(client, given, (k) => client.download(k));
    const out = outFor(key);
    if (!force && out !== outFor(given))
      await refuseExisting(out).catch(async (error) => {
        await object.body.cancel().catch(() => {});
        throw error;
      });
    const sha256 = await saveAs(object, out, force);
    if (values.json) printJson({ object: key, key, size: object.size, sha256, file: out });
    else process.stderr.write(`saved ${key} (${formatBytes(object.size)}) as ${out}\n`);
    return 0;
  },
};

async function refuseExisting(file: string): Promise<void> {
  const exists = await fs.lstat(file).then(
    () => true,
    () => false,
  );
  if (exists)
    throw withHint(
      new CliError('file_exists', `${file} already exists`),
      'add --force to replace it, or --out FILE',
    );
}

/**
 * Streams a download into a temporary file next to `out`, checks it against the object's
 * SHA-256 (when the store has one), makes it durable, then gives it `out`'s name: over an
 * existing file only with `force` (else link(2), which refuses one that appeared meanwhile).
 */
async function saveAs(object: Download, out: string, force: boolean): Promise<string> {
  const temp = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(6).toString('hex')}.part`);
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
    const digest = hash.digest('hex');
    const expected = /^"([0-9a-f]{64})"$/.exec(object.etag)?.[1];
    if (expected !== undefined && digest !== expected) {
      throw new ValetError('bad_digest', "the downloaded bytes do not match the object's SHA-256");
    }
    const handle = await fs.open(temp, 'r');
    await handle.sync();
    await handle.close();
    if (force) await fs.rename(temp, out);
    else {
      await fs.link(temp, out).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return refuseExisting(out);
        throw error;
      });
      await fs.rm(temp, { force: true });
    }
    return digest;
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  } finally {
    bar.done();
  }
}

function onePositional(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${name}`);
  return positionals[0] as string;
}

/** The file's SHA-256, with a "hashing" bar on a terminal (a large file takes a while). */
/** Files from this size go as resumable uploads (the client's default threshold). */
const RESUMABLE_FROM = 8 * 1024 * 1024;

/**
 * Ctrl-C during a command's long steps: the step is aborted (an upload under way stays resumable)
 * and the command fails with 130, saying what happened and how to go on.
 */
function interruption() {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  return {
    signal: controller.signal,
    async during<T>(step: Promise<T>, whatNow: () => string): Promise<T> {
      process.once('SIGINT', onSigint);
      try {
        return await Promise.race([
          step,
          new Promise<never>((_, reject) =>
            controller.signal.addEventListener('abort', () => reject(controller.signal.reason), {
              once: true,
            }),
          ),
        ]);
      } catch (error) {
        if (!controller.signal.aborted) throw error;
        // The step stops on the abort (an upload keeps what storage has): a moment to settle.
        await Promise.race([step.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2_000))]);
        throw new CliError('interrupted', `interrupted: ${whatNow()}`, 130);
      } finally {
        process.off('SIGINT', onSigint);
      }
    },
  };
}

async function fileSha256(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const bar = progressBar('hashing');
  let done = 0;
  try {
    await pipeline(
      createReadStream(file, { highWaterMark: 1024 * 1024 }),
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          done += chunk.length;
          bar.update(done, size);
          callback();
        },
      }),
    );
  } finally {
    bar.done();
  }
  return hash.digest('hex');
}
