import { ftruncate } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { DataStore, ERRORS, Upload as TusUpload } from '@tus/utils';
import { KEY_ID } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import type { Receipt } from '../../wire/events.js';
import { sharedHashPool } from './file-hasher.js';
import { closeFd, fsyncFd, HEADER_SIZE, hashBody, openFd } from './object-file.js';
import { type RunningHash, writeChunk } from './upload-chunk.js';

/**
 * Resumable uploads (tus 1.0) kept by Valet storage, as a `@tus/server` data store.
 *
 * Each upload has two files in `DIR/uploads/`: `<id>.json`, its scope and limits as they were
 * when the creating key was checked, and `<id>.part`, a 4 KiB header space followed by the bytes
 * received so far. The offset is the part file's length, so it stays right after a crash of the
 * process (what was written is in the kernel), and the bytes are checked as a whole at the end:
 * the SHA-256 is computed over what is in the file, the header is written, the file is fsynced and
 * renamed over the object, so the object appears whole or not at all.
 *
 * The upload's id is the `jti` of the key that created it.
 */

/** What storage knows about one resumable upload. */
export interface UploadInfo {
  id: string;
  /** The object the upload becomes. */
  object: string;
  /** The `sub` of the creating key: only keys for the same subject may continue it. */
  subject: string;
  /** Total size declared at creation (`Upload-Length`). */
  size: number;
  contentType: string;
  /** SHA-256 bound in the creating key, if any. */
  sha256?: string;
  noOverwrite: boolean;
  /** The object is held until the issuer publishes it (the creating key said `hold`). */
  hold?: boolean;
  /** Created, ms since the epoch. */
  created: number;
  /** An unfinished upload is removed after this time (ms since the epoch). */
  expires: number;
  /** The client's tus metadata, as sent. */
  metadata: Record<string, string | null>;
  /** Set once the upload has become the object. */
  done?: { sha256: string; etag: string; at: number; receipt?: Receipt };
}

/**
 * What storage checked about one tus request before @tus/server runs it: the upload it is for,
 * and what that upload must get. Storage hands it over with {@link ResumableStore.during}, for the
 * time the request runs; the store reads it where tus calls it (`create`, `write`).
 */
export interface UploadIntent {
  /** The upload's id (a creation: the creating key's `jti`). */
  id: string;
  /** A creation: the upload's scope and limits, from the creating key. */
  creation?: UploadInfo;
  /** A PATCH with `Upload-Checksum` (checksum extension): the chunk at `offset` has this digest. */
  checksum?: { offset: number; algorithm: string; digest: string };
}

/** The version a finished upload became, and the receipt of its event (with a webhook). */
export interface Version {
  sha256: string;
  etag: string;
  receipt?: Receipt;
}

/** What {@link ResumableStore} needs from the object store. */
export interface ResumableHooks {
  /** Makes a complete part file the object (seal, commit, event); returns its SHA-256 and ETag. */
  commit(info: UploadInfo, file: string, sha256: string): Promise<Version>;
  /** After a crash between commit and bookkeeping: the object's version, if this upload made it. */
  committedVersion(info: UploadInfo): Promise<{ sha256: string; etag: string } | undefined>;
}

const truncateFd = promisify(ftruncate);

/** The tus data store of Valet storage. Extensions: creation, creation-with-upload, termination, expiration. */
export class ResumableStore extends DataStore {
  readonly dir: string;
  readonly #now: () => number;
  readonly #lifetime: number;
  readonly #hooks: ResumableHooks;
  readonly #infos = new Map<string, UploadInfo>();
  // The running SHA-256 of an upload's bytes, while they arrive in order in this process.
  readonly #hashes = new Map<string, RunningHash>();
  // The intents of the requests running now, by upload id (several may run for one upload).
  readonly #intents = new Map<string, Set<UploadIntent>>();

  constructor(dir: string, options: { now: () => number; lifetime: number; hooks: ResumableHooks }) {
    super();
    this.dir = dir;
    this.#now = options.now;
    this.#lifetime = options.lifetime;
    this.#hooks = options.hooks;
    this.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration', 'checksum'];
  }

  /**
   * Opens the directory after a start or a crash, in one pass: removes part files whose record
   * was never written (and half-written records), and finishes every upload whose bytes all
   * arrived but that did not become its object yet (committed, or removed if refused).
   * Returns the ids finished.
   */
  async init(onError: (id: string, error: unknown) => void): Promise<string[]> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const names = new Set(await fs.readdir(this.dir));
    const finished: string[] = [];
    for (const name of names) {
      if (name.endsWith('.json.tmp') || (name.endsWith('.part') && !names.has(`${name.slice(0, -5)}.json`))) {
        await fs.rm(path.join(this.dir, name), { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -5);
      try {
        const info = await this.info(id);
        if (!info || info.done || this.#now() > info.expires) continue;
        if ((await this.#received(info)) === info.size) {
          await this.#finish(info);
          finished.push(id);
        }
      } catch (error) {
        onError(id, error);
      }
    }
    return finished;
  }

  /** Runs one tus request with what storage checked about it (see {@link UploadIntent}). */
  async during<T>(intent: UploadIntent, run: () => Promise<T>): Promise<T> {
    const running = this.#intents.get(intent.id) ?? new Set<UploadIntent>();
    this.#intents.set(intent.id, running);
    running.add(intent);
    try {
      return await run();
    } finally {
      running.delete(intent);
      if (running.size === 0) this.#intents.delete(intent.id);
    }
  }

  #intent(id: string, matches: (intent: UploadIntent) => boolean): UploadIntent | undefined {
    for (const intent of this.#intents.get(id) ?? []) if (matches(intent)) return intent;
    return undefined;
  }

  /** The record of an upload, or undefined. */
  async info(id: string): Promise<UploadInfo | undefined> {
    if (!KEY_ID.test(id)) return undefined;
    const cached = this.#infos.get(id);
    if (cached) return cached;
    let text: string;
    try {
      text = await fs.readFile(this.#json(id), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const info = JSON.parse(text) as UploadInfo;
    this.#infos.set(id, info);
    return info;
  }

  /** How long an unfinished upload lives, ms (tus expiration extension). */
  override getExpiration(): number {
    return this.#lifetime;
  }

  override async create(upload: TusUpload): Promise<TusUpload> {
    const info = this.#intent(upload.id, (i) => i.creation !== undefined)?.creation;
    if (!info || upload.size !== info.size)
      throw new ValetError('internal_error', 'unexpected upload creation');
    const fd = await openFd(this.#part(upload.id), 'wx', 0o600);
    try {
      await truncateFd(fd, HEADER_SIZE);
      await fsyncFd(fd);
    } finally {
      await closeFd(fd);
    }
    await this.#saveInfo(info);
    upload.creation_date = new Date(info.created).toISOString();
    upload.storage = { type: 'valet', path: this.#part(upload.id) };
    return upload;
  }

  override async getUpload(id: string): Promise<TusUpload> {
    const info = await this.info(id);
    if (!info) throw ERRORS.FILE_NOT_FOUND;
    if (!info.done && this.#now() > info.expires) throw ERRORS.FILE_NO_LONGER_EXISTS;
    let offset = info.size;
    if (!info.done) {
      offset = await this.#received(info);
      // Every byte is in but the upload is not the object yet (a crash, or a body cut at its
      // end): finish it now, so that a client never sees a complete upload without its object.
      if (offset === info.size) await this.#finish(info);
    }
    return this.#tusUpload(info, offset);
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const info = await this.info(id);
    if (!info) throw ERRORS.FILE_NOT_FOUND;
    if (info.done) throw new ValetError('upload_gone', 'this upload is already finished');
    const fd = await openFd(this.#part(id), 'r+');
    let running = this.#hashes.get(id);
    if (running?.offset !== offset) {
      await this.#forgetHash(id);
      running = offset === 0 ? { job: sharedHashPool.job(), offset: 0 } : undefined;
      if (running) this.#hashes.set(id, running);
    }
    const expected = this.#intent(id, (i) => i.checksum?.offset === offset)?.checksum;
    let position: number;
    try {
      position = await writeChunk(fd, stream, { offset, size: info.size, running, expected });
    } catch (error) {
      // The running hash no longer matches the file: it is computed from the file at the end.
      if (!(error instanceof ValetError) || error.code === 'checksum_mismatch') await this.#forgetHash(id);
      throw error;
    } finally {
      // The hashing thread reads this descriptor: only once it is done with it may it close.
      await running?.job.sync().catch(() => this.#forgetHash(id));
      await closeFd(fd);
    }
    if (position === info.size) await this.#finish(info);
    return position;
  }

  override async remove(id: string): Promise<void> {
    const info = await this.info(id);
    if (!info) throw ERRORS.FILE_NOT_FOUND;
    await this.#drop(id);
  }

  override async deleteExpired(): Promise<number> {
    const now = this.#now();
    let removed = 0;
    for (const name of await fs.readdir(this.dir).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -5);
      const info = await this.info(id).catch(() => undefined);
      // A finished upload's record is kept as long as the upload would have lived, so that a
      // client whose last answer was lost learns from a HEAD that it is done.
      const until = info?.done ? Math.max(info.expires, info.done.at + this.#lifetime) : info?.expires;
      if (until === undefined || now > until) {
        await this.#drop(id);
        removed++;
      }
    }
    return removed;
  }

  /** Bytes received so far (the part file's length after the header space). */
  async #received(info: UploadInfo): Promise<number> {
    try {
      return (await fs.stat(this.#part(info.id))).size - HEADER_SIZE;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // No part file: the commit renamed it, then the process stopped before saying so.
      const version = await this.#hooks.committedVersion(info);
      if (!version) throw ERRORS.FILE_NO_LONGER_EXISTS;
      await this.#markDone(info, version);
      return info.size;
    }
  }

  /** The last byte is in: check and commit. A refused upload is removed. */
  async #finish(info: UploadInfo): Promise<void> {
    const file = this.#part(info.id);
    const state = this.#hashes.get(info.id);
    this.#hashes.delete(info.id);
    const running = state?.offset === info.size ? await state.job.digest().catch(() => undefined) : undefined;
    if (state && running === undefined) await state.job.drop();
    const sha256 = running ?? (await hashBody(file, info.size));
    let version: Version;
    try {
      if (info.sha256 !== undefined && info.sha256 !== sha256) {
        throw new ValetError('bad_digest', 'the upload does not match the SHA-256 bound in the key');
      }
      version = await this.#hooks.commit(info, file, sha256);
    } catch (error) {
      if (error instanceof ValetError && error.status < 500) await this.#drop(info.id);
      throw error;
    }
    await this.#markDone(info, version);
  }

  async #markDone(info: UploadInfo, version: Version): Promise<void> {
    info.done = { ...version, at: this.#now() };
    await this.#saveInfo(info);
  }

  /** Ends an upload's running hash (its bytes will be hashed from the file if it finishes). */
  async #forgetHash(id: string): Promise<void> {
    const running = this.#hashes.get(id);
    this.#hashes.delete(id);
    await running?.job.drop();
  }

  async #drop(id: string): Promise<void> {
    this.#infos.delete(id);
    await this.#forgetHash(id);
    await fs.rm(this.#part(id), { force: true });
    await fs.rm(this.#json(id), { force: true });
  }

  async #saveInfo(info: UploadInfo): Promise<void> {
    const file = this.#json(info.id);
    const tmp = `${file}.tmp`;
    const handle = await fs.open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(info));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
    this.#infos.set(info.id, info);
  }

  #tusUpload(info: UploadInfo, offset: number): TusUpload {
    return new TusUpload({
      id: info.id,
      size: info.size,
      offset,
      metadata: {
        ...info.metadata,
        // A finished upload tells a client that lost the last answer what was stored.
        ...(info.done && { 'valet-sha256': info.done.sha256, 'valet-etag': info.done.etag }),
        ...(info.done?.receipt && { 'valet-receipt': JSON.stringify(info.done.receipt) }),
      },
      creation_date: new Date(info.created).toISOString(),
      storage: { type: 'valet', path: this.#part(info.id) },
    });
  }

  #part(id: string): string {
    return path.join(this.dir, `${id}.part`);
  }

  #json(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }
}
