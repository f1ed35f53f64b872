import type { Body, DefinePluginOpts, Meta, PluginOpts, Uppy, UppyFile } from '@uppy/core';
import { BasePlugin, EventManager } from '@uppy/core';
import { filterFilesToEmitUploadStarted, filterFilesToUpload } from '@uppy/core/utils';
import { type ClientOptions, createClient, type UploadOptions, type ValetClient } from '../client/client.js';
import { isValetError } from '../token/errors.js';
import { Slots } from './slots.js';

/** Options of the {@link ValetUploader} plugin. */
export interface ValetUploaderOptions<M extends Meta, B extends Body> extends PluginOpts {
  /** A Valet client (`createClient` from `valet/client`); or give `issuer` and `getToken`. */
  client?: ValetClient;
  /** The issuer's base URL, when no `client` is given. */
  issuer?: string;
  /** The caller's bearer token for the issuer, when no `client` is given. */
  getToken?: ClientOptions['getToken'];
  /** The issuer rule to upload with; default: the first upload rule that allows each file. */
  rule?: string;
  /** The object name proposed for a file; default: the file's name (the rule confines it). */
  name?: (file: UppyFile<M, B>) => string | undefined;
  /** Bind each file's SHA-256 into its key (hashed in the browser first). Default `false`. */
  sha256?: boolean;
  /** Files uploaded at the same time. Default 3. */
  limit?: number;
}

const defaults = { limit: 3, sha256: false } as const;

type Opts<M extends Meta, B extends Body> = DefinePluginOpts<
  ValetUploaderOptions<M, B>,
  keyof typeof defaults
>;

/** What an Uppy file's `response.body` holds after a Valet upload (`UploadResult` of `valet/client`). */
export type ValetUploadBody = Awaited<ReturnType<ValetClient['upload']>> & Body;

/**
 * An Uppy uploader that sends every file through a Valet issuer straight to storage, with
 * `valet/client`: tus to Valet storage, single or multipart to S3, blocks to Azure, as the
 * issuer's key says. Uppy's progress, pause, resume, retry and cancel work as with `@uppy/tus`:
 * a pause keeps the upload (resuming continues where storage is, with a renewed key, also after
 * a reload); a cancel or a removal ends it at storage. Refusals reach Uppy as errors carrying
 * Valet's message and code (`error.code`).
 *
 * @example
 * ```ts
 * import Uppy from '@uppy/core'
 * import Dashboard from '@uppy/dashboard'
 * import { ValetUploader } from 'valet/uppy'
 * new Uppy().use(Dashboard, { inline: true, target: '#app' })
 *   .use(ValetUploader, { issuer: 'https://app.example.com', getToken: () => session.token })
 * ```
 */
export class ValetUploader<M extends Meta, B extends Body> extends BasePlugin<Opts<M, B>, M, B> {
  static VERSION = '0.1.0';
  readonly client: ValetClient;
  readonly #slots: Slots;

  constructor(uppy: Uppy<M, B>, options: ValetUploaderOptions<M, B>) {
    super(uppy, { ...defaults, ...options });
    this.type = 'uploader';
    this.id = this.opts.id ?? 'Valet';
    if (options.client) this.client = options.client;
    else if (options.issuer && options.getToken)
      this.client = createClient({ issuer: options.issuer, getToken: options.getToken });
    else throw new TypeError('ValetUploader needs `client`, or `issuer` and `getToken`');
    this.#slots = new Slots(this.opts.limit);
  }

  override install(): void {
    const { capabilities } = this.uppy.getState();
    this.uppy.setState({ capabilities: { ...capabilities, resumableUploads: true } });
    this.uppy.addUploader(this.#handleUpload);
  }

  override uninstall(): void {
    const { capabilities } = this.uppy.getState();
    this.uppy.setState({ capabilities: { ...capabilities, resumableUploads: false } });
    this.uppy.removeUploader(this.#handleUpload);
  }

  #handleUpload = async (fileIDs: string[]): Promise<void> => {
    const files = filterFilesToUpload(this.uppy.getFilesByIds(fileIDs));
    this.uppy.emit('upload-start', filterFilesToEmitUploadStarted(files));
    await Promise.allSettled(files.map((file) => this.#uploadFile(file)));
  };

  /**
   * One file, from start to success, error, cancel or removal (each settles it once). A pause
   * aborts the running attempt but keeps the upload; resuming starts a new attempt, which the
   * client continues from what storage holds.
   */
  #uploadFile(file: UppyFile<M, B>): Promise<void> {
    return new Promise<void>((resolve) => {
      const events = new EventManager(this.uppy);
      let running: { controller: AbortController; options: UploadOptions } | undefined;
      const settle = () => {
        events.remove();
        resolve();
      };
      const stop = (keep: boolean) => {
        if (!running) return;
        // The client reads keepOnAbort when the abort lands: keep (a pause) or cancel at storage.
        running.options.keepOnAbort = keep;
        running.controller.abort();
        running = undefined;
      };
      const start = () => {
        const current = this.uppy.getFile(file.id);
        if (!current || current.isPaused || running) return;
        const attempt = { controller: new AbortController(), options: this.#options(current) };
        attempt.options.signal = attempt.controller.signal;
        running = attempt;
        this.#slots
          .run(attempt.controller.signal, () => this.client.upload(this.#data(current), attempt.options))
          .then(
            (result) => {
              if (attempt.controller.signal.aborted) return;
              this.uppy.emit('upload-success', this.uppy.getFile(file.id), {
                status: 200,
                body: result as unknown as B,
              });
              settle();
            },
            (error: unknown) => {
              if (attempt.controller.signal.aborted) return;
              running = undefined;
              this.uppy.emit('upload-error', this.uppy.getFile(file.id), toUppyError(error));
              settle();
            },
          );
      };
      events.onFileRemove(file.id, () => {
        stop(false);
        settle();
      });
      events.onCancelAll(file.id, () => {
        stop(false);
        settle();
      });
      events.onPause(file.id, (isPaused) => (isPaused ? stop(true) : start()));
      events.onPauseAll(file.id, () => stop(true));
      events.onResumeAll(file.id, start);
      start();
    });
  }

  /** The client's options for one attempt at `file`. */
  #options(file: UppyFile<M, B>): UploadOptions {
    const name = this.opts.name ? this.opts.name(file) : file.name;
    return {
      ...(this.opts.rule !== undefined && { rule: this.opts.rule }),
      ...(name !== undefined && { name }),
      ...(file.type && { contentType: file.type }),
      sha256: this.opts.sha256,
      keepOnAbort: true,
      onProgress: ({ loaded, total }) => {
        const latest = this.uppy.getFile(file.id);
        if (!latest) return;
        this.uppy.emit('upload-progress', latest, {
          uploadStarted: latest.progress.uploadStarted ?? Date.now(),
          bytesUploaded: loaded,
          bytesTotal: total ?? file.size,
        });
      },
      // Its rule's validators check it: Uppy's post-processing shows "Checking…", then the verdict
      // (a rejection is the upload's error, its reason in words).
      onValidation: ({ status }) => {
        const latest = this.uppy.getFile(file.id);
        if (!latest) return;
        if (status === 'pending') {
          this.uppy.emit('postprocess-progress', latest, {
            mode: 'indeterminate',
            message: 'Checking… (nobody can read it until it passes)',
          });
        } else {
          this.uppy.emit('postprocess-complete', latest);
        }
      },
    };
  }

  #data(file: UppyFile<M, B>): Blob {
    if (file.isRemote || !file.data) throw new TypeError('ValetUploader uploads local files only');
    return file.data as Blob;
  }
}

/** An error as Uppy shows it: Valet's message, with its stable code kept on `code`. */
function toUppyError(error: unknown): Error & { code?: string } {
  if (isValetError(error))
    return Object.assign(new Error(error.message), { name: 'ValetError', code: error.code });
  return error instanceof Error ? error : new Error(String(error));
}
