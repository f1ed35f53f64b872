import type { UploadProtocol } from '../wire/keys.js';

/** True for an upload in parts the issuer signs (S3 multipart, Azure blocks, GCS sessions); false for tus. */
export function inParts(
  protocol: UploadProtocol | undefined,
): protocol is 's3-multipart' | 'azure-blocks' | 'gcs-resumable' {
  return protocol === 's3-multipart' || protocol === 'azure-blocks' || protocol === 'gcs-resumable';
}

/**
 * Where the client remembers its unfinished resumable uploads, so that an upload resumes after
 * the page or the process is restarted. Only the upload's URL and id are kept, never a key: a
 * resumed upload asks the issuer for a fresh key for that upload.
 */

/** One unfinished upload, as remembered. */
export interface SavedUpload {
  /** The upload's URL at storage. */
  url: string;
  /** The upload's id (the issuer renews keys for it). */
  id: string;
  /** The object it becomes. */
  object: string;
  /** Total size. */
  size: number;
  /** When it was created, ms since the epoch. */
  created: number;
  /** `tus` (default), `s3-multipart`, `azure-blocks` or `gcs-resumable`, whose parts have `partSize` bytes but the last. */
  protocol?: UploadProtocol;
  partSize?: number;
}

/** A place to remember unfinished uploads, by the fingerprint of their source. */
export interface ResumeStore {
  get(fingerprint: string): Promise<SavedUpload | undefined>;
  set(fingerprint: string, upload: SavedUpload): Promise<void>;
  remove(fingerprint: string): Promise<void>;
}

/** Entries older than this are forgotten (storage keeps an unfinished upload a day by default). */
const MAX_AGE_MS = 7 * 24 * 3600 * 1000;
const PREFIX = 'valet-upload:';

interface WebStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** Remembers uploads in a browser's `localStorage`. */
export function localStorageResumeStore(storage: WebStorage): ResumeStore {
  return {
    async get(fingerprint) {
      return parseSaved(storage.getItem(PREFIX + fingerprint));
    },
    async set(fingerprint, upload) {
      storage.setItem(PREFIX + fingerprint, JSON.stringify(upload));
    },
    async remove(fingerprint) {
      storage.removeItem(PREFIX + fingerprint);
    },
  };
}

/** Remembers uploads in memory only: they resume after a network drop, not after a restart. */
export function memoryResumeStore(): ResumeStore {
  const saved = new Map<string, SavedUpload>();
  return {
    get: async (fingerprint) => saved.get(fingerprint),
    set: async (fingerprint, upload) => {
      saved.set(fingerprint, upload);
    },
    remove: async (fingerprint) => {
      saved.delete(fingerprint);
    },
  };
}

// Node modules named through variables: a browser bundler then leaves them alone, and this file
// stays loadable in browsers (where the file store is never used).
const NODE_FS = 'node:fs/promises';
const NODE_PATH = 'node:path';
const NODE_OS = 'node:os';

// The few Node APIs the file store uses (the client compiles without Node's types for browsers).
interface NodeFs {
  readFile(file: string, encoding: 'utf8'): Promise<string>;
  writeFile(file: string, data: string, options: { mode: number }): Promise<void>;
  mkdir(dir: string, options: { recursive: true; mode: number }): Promise<unknown>;
  rename(from: string, to: string): Promise<void>;
}
interface NodePath {
  join(...parts: string[]): string;
  dirname(file: string): string;
}
interface NodeProcess {
  pid: number;
  env: Record<string, string | undefined>;
}
const nodeProcess = () => (globalThis as unknown as { process: NodeProcess }).process;

/**
 * Remembers uploads in a JSON file (Node). Default file: `$VALET_STATE_DIR/uploads.json`, else
 * `~/.valet/uploads.json`. Writes are atomic (temporary file, then rename).
 */
export function fileResumeStore(file?: string): ResumeStore {
  let resolved: Promise<string> | undefined;
  const where = () => {
    resolved ??= (async () => {
      if (file !== undefined) return file;
      const path = (await import(NODE_PATH)) as NodePath;
      const os = (await import(NODE_OS)) as { homedir(): string };
      const dir = nodeProcess().env.VALET_STATE_DIR || path.join(os.homedir(), '.valet');
      return path.join(dir, 'uploads.json');
    })();
    return resolved;
  };
  const fs = () => import(NODE_FS) as Promise<NodeFs>;
  const load = async (): Promise<Record<string, SavedUpload>> => {
    try {
      const parsed = JSON.parse(await (await fs()).readFile(await where(), 'utf8')) as Record<
        string,
        unknown
      >;
      const entries: Record<string, SavedUpload> = {};
      for (const [fingerprint, value] of Object.entries(parsed)) {
        const saved = parseSaved(JSON.stringify(value));
        if (saved) entries[fingerprint] = saved;
      }
      return entries;
    } catch {
      return {};
    }
  };
  const save = async (entries: Record<string, SavedUpload>) => {
    const path = (await import(NODE_PATH)) as NodePath;
    const target = await where();
    const { mkdir, writeFile, rename } = await fs();
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    const tmp = `${target}.${nodeProcess().pid}.tmp`;
    await writeFile(tmp, JSON.stringify(entries, null, 2), { mode: 0o600 });
    await rename(tmp, target);
  };
  return {
    async get(fingerprint) {
      return (await load())[fingerprint];
    },
    async set(fingerprint, upload) {
      const entries = await load();
      entries[fingerprint] = upload;
      await save(entries);
    },
    async remove(fingerprint) {
      const entries = await load();
      if (!(fingerprint in entries)) return;
      delete entries[fingerprint];
      await save(entries);
    },
  };
}

/** The default store: `localStorage` in browsers, a file in Node, memory elsewhere. */
export function defaultResumeStore(): ResumeStore {
  // Node first: from Node 25 on, merely reading globalThis.localStorage without
  // --localstorage-file prints an ExperimentalWarning, and a file suits Node better anyway.
  if (isNode()) return fileResumeStore();
  const web = (globalThis as { localStorage?: WebStorage }).localStorage;
  if (web) {
    try {
      web.getItem(PREFIX);
      return localStorageResumeStore(web);
    } catch {
      // Storage disabled (private mode, sandboxed frame): fall through.
    }
  }
  return memoryResumeStore();
}

/** True when running in Node (where the client uses node:http and the file store). */
export function isNode(): boolean {
  return (
    typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string'
  );
}

function parseSaved(text: string | null): SavedUpload | undefined {
  if (text === null) return undefined;
  try {
    const v = JSON.parse(text) as Partial<SavedUpload>;
    if (
      typeof v.url === 'string' &&
      typeof v.id === 'string' &&
      typeof v.object === 'string' &&
      typeof v.size === 'number' &&
      typeof v.created === 'number' &&
      Date.now() - v.created < MAX_AGE_MS
    ) {
      return {
        url: v.url,
        id: v.id,
        object: v.object,
        size: v.size,
        created: v.created,
        ...(inParts(v.protocol) &&
          typeof v.partSize === 'number' && { protocol: v.protocol, partSize: v.partSize }),
      };
    }
  } catch {
    // A damaged entry is ignored: the upload starts over.
  }
  return undefined;
}
