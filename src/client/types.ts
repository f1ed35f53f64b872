import type { Grant } from '../wire/keys.js';
import type { ShareLink } from '../wire/shares.js';
import type { ValidationState } from '../wire/validations.js';
import type { ResumeStore } from './resume.js';

// The answers the SDK returns as the wire declares them (wire/): one declaration each.
export type { Me } from '../wire/me.js';
export type { ObjectInfo } from '../wire/objects.js';
export type { ValidationState } from '../wire/validations.js';
export type { Grant };

/** Options for {@link createClient}. */
export interface ClientOptions {
  /** The issuer's base URL, e.g. `https://app.example.com` or `http://127.0.0.1:8080`. */
  issuer: string;
  /** Returns the caller's bearer token for the issuer (an OIDC token, a session token…). */
  getToken: () => string | null | undefined | Promise<string | null | undefined>;
  /** The fetch to use. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Retries after a transient failure (network error, 5xx). Default 3. Refusals (4xx) are never retried. */
  retries?: number;
  /** First retry delay, ms; doubles each time, with jitter. Default 500. */
  retryDelay?: number;
  /** Computes the SHA-256 (hex) of a Blob. Default: WebCrypto up to 64 MiB, then in chunks (any size, constant memory). */
  digest?: (data: BlobLike) => Promise<string>;
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * Blobs at least this large are sent as a resumable upload (tus on Valet storage), in chunks
   * that survive network drops, restarts and expiring keys. Default 8 MiB; `Infinity`: never.
   */
  resumableThreshold?: number;
  /** Bytes per request of a resumable upload. Default 64 MiB. */
  chunkSize?: number;
  /**
   * Where unfinished resumable uploads are remembered, so that they resume after a restart.
   * Default: `localStorage` in browsers, `~/.valet/uploads.json` (or `$VALET_STATE_DIR`) in Node.
   * `null`: remember nothing (resume only within one `upload()` call).
   */
  resumeStore?: ResumeStore | null;
}

/** Progress of a transfer. */
export interface Progress {
  loaded: number;
  /** Absent when the size is not known in advance (a stream). */
  total?: number;
}

/**
 * What `upload()` needs of a Blob: a real `Blob` or `File`, or a source that reads on demand,
 * such as a Node file from `openFile(path)` in `valet/client/node`.
 */
export interface BlobLike {
  readonly size: number;
  readonly type: string;
  /** A file's name (a browser `File`, `openFile` from `valet/client/node`): the default object name. */
  readonly name?: string;
  slice(start?: number, end?: number, contentType?: string): BlobLike;
  stream(): ReadableStream<Uint8Array>;
}

/** What can be uploaded. A Node file, however large: `await openFile(path)` from `valet/client/node`. */
export type UploadData =
  | Blob
  | BlobLike
  | ArrayBuffer
  | ArrayBufferView
  | string
  | ReadableStream<Uint8Array>;

/** Options for {@link ValetClient.upload}. */
export interface UploadOptions {
  /** The issuer rule to use; default: the first upload rule that allows it. */
  rule?: string;
  /**
   * The proposed object name (the rule confines it, e.g. under `users/<you>/`). Default: the
   * file's own name (a browser `File`, `openFile`); for other data, a name the issuer makes up.
   */
  name?: string;
  /** The content type; default: the Blob's type, if any. */
  contentType?: string;
  /**
   * The app's own fields, kept with the object and listed with it: names of `a-z`, `0-9`, `_`
   * and `-` (at most 64), values of at most 1,024 characters; at most 32 fields, 8 KiB in all.
   */
  metadata?: Record<string, string>;
  /** Bind the body's SHA-256 into the key (`true`: computed here; a hex string: already known). */
  sha256?: boolean | string;
  onProgress?: (progress: Progress) => void;
  signal?: AbortSignal;
  /** Force (`true`) or avoid (`false`) a resumable upload; default: by the client's threshold. */
  resumable?: boolean;
  /**
   * What identifies the source across restarts, so that uploading it again resumes the earlier
   * upload (the CLI uses the file's path, size and modification time). Default for a browser
   * `File`: its name, size, type and modification time; other data resumes only within one call.
   */
  fingerprint?: string;
  /** Called when an earlier upload of the same source resumes, with what storage already has. */
  onResume?: (state: { offset: number; total: number }) => void;
  /**
   * When `signal` aborts a resumable upload: keep it, so that uploading the same source again
   * resumes it (`true`, the default: a pause), or cancel it at storage and forget it (`false`).
   * Read when the abort lands, so one upload can be paused or cancelled (valet/uppy does that).
   */
  keepOnAbort?: boolean;
  /**
   * An upload its rule validates (a type check, a virus scan, the app's own check) is readable
   * only once it passes. `true` (default): `upload()` resolves once it is published, and rejects
   * with `content_rejected` and the reason if it is not. `false`: it resolves as soon as storage
   * has it, with `validation: 'pending'` and `verdict`, a promise of the outcome.
   */
  awaitValidation?: boolean;
  /** Where the validation stands: `pending` when the checks start ("checking…"), then the verdict. */
  onValidation?: (state: ValidationState) => void;
}

/** An upload, as committed by storage. */
export interface UploadResult {
  /** The object it was stored as. */
  object: string;
  /** @deprecated The same as `object`, for one release: removed in 1.0. */
  key: string;
  size: number;
  /** Hex SHA-256; `null` from a store that keeps none (S3 engines without checksums, Azure). */
  sha256: string | null;
  etag: string;
  contentType: string;
  /** The key the upload used: its scope and expiry (never the token). */
  grant: Grant;
  /** Request-body bytes sent to the issuer and to storage, all attempts included. */
  bytes: { toIssuer: number; toStorage: number };
  /** The resumable upload's id, when the body went as one. */
  upload?: string;
  /**
   * `pending`: its rule validates it and the verdict is not in yet (only with `awaitValidation:
   * false`): nobody may read it until then. Absent: it is readable.
   */
  validation?: 'pending';
  /**
   * With `validation: 'pending'`: the outcome, once decided (`published`, `rejected` with its
   * reason, or `replaced`); it rejects only if the issuer cannot be asked.
   */
  verdict?: Promise<ValidationState>;
}

/** A URL that reads one object for a short time (for `<img>`, `<video>` or a download link). */
export interface ReadUrl {
  url: string;
  expiresAt: string;
}

/** A download under way. */
export interface Download {
  object: string;
  /** @deprecated The same as `object`, for one release: removed in 1.0. */
  key: string;
  /** The bytes; read it once. */
  body: ReadableStream<Uint8Array>;
  size: number;
  contentType: string;
  etag: string;
  /** The whole body as a Blob. */
  blob(): Promise<Blob>;
}

/** A share link (`object` is what it links to). */
export interface Share extends ShareLink {
  /** @deprecated The same as `object`, for one release: removed in 1.0. */
  key: string;
}
