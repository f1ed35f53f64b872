import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import type * as jose from 'jose';
import type { Logger } from 'pino';
import { ValetError } from '../../token/errors.js';
import { type KeyResolver, TrustedKeys } from '../../token/keys.js';
import { writeDurably } from '../disk/durable-file.js';

/** Options for {@link JwksSource.open}. */
export interface JwksSourceOptions {
  /** How often the set is re-read, in ms. Default 5 000 for a file, 60 000 for a URL. 0: never. */
  refreshInterval?: number;
  /** Least time between two refreshes caused by an unknown `kid`, in ms. Default 1 000 (file), 10 000 (URL). */
  unknownKidCooldown?: number;
  /** Where refresh failures are reported. */
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * A URL set's copy on disk: written each time the set is fetched, and read when it cannot be
   * at start (the issuer unreachable), so that a storage restarted during an outage still trusts
   * the keys it trusted. Default none.
   */
  cacheFile?: string;
  /**
   * Start even when the set cannot be loaded (nor a kept copy read): every key is then answered
   * `503 unavailable` until it is, and it is tried again every second. For storage that trusts
   * its issuer's keys and may start before the issuer. Default false: `open` fails.
   */
  waitForKeys?: boolean;
}

/**
 * The trusted keys of a storage server, loaded from a JWK set file or URL and kept fresh:
 * re-read periodically (a file only when it changed), on demand ({@link reload}, which the CLI
 * calls on SIGHUP), and when a token names a `kid` not in the set (rate-limited). A failed
 * refresh keeps the previous set. Rotation: publish old + new key, switch the issuer to the new
 * one, and once every old key has expired (the maximum lifetime), publish the new key alone.
 *
 * @example
 * ```ts
 * const keys = await JwksSource.open('/etc/valet/jwks.json')
 * const storage = await createStorageServer({ dataDir: '/var/lib/valet', keys })
 * ```
 */
export class JwksSource implements KeyResolver {
  readonly spec: string;
  /** The sources tried in turn (replicas of one issuer publish the same set). */
  readonly #specs: readonly string[];
  #keys: TrustedKeys | undefined;
  #warnedWaiting = false;
  #version: string;
  #text: string;
  #lastRefresh: number;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #options: Required<Pick<JwksSourceOptions, 'unknownKidCooldown' | 'now'>> & JwksSourceOptions;

  private constructor(specs: readonly string[], loaded: Loaded | undefined, options: JwksSourceOptions) {
    this.#specs = specs;
    this.spec = specs.map(displaySpec).join(', ');
    this.#keys = loaded?.keys;
    this.#version = loaded?.version ?? '';
    this.#text = loaded?.text ?? '';
    const remote = specs.some(isUrl);
    this.#options = {
      ...options,
      unknownKidCooldown: options.unknownKidCooldown ?? (remote ? 10_000 : 1_000),
      now: options.now ?? Date.now,
    };
    this.#lastRefresh = this.#options.now();
    const interval = options.refreshInterval ?? (remote ? 60_000 : 5_000);
    if (interval > 0) {
      this.#timer = setInterval(() => void this.reload(), interval);
      this.#timer.unref();
    }
    if (!loaded) this.#awaitKeys();
  }

  /** Tries every second until a first set is loaded (see `waitForKeys`). */
  #awaitKeys(): void {
    const retry = setInterval(() => {
      if (this.#keys) clearInterval(retry);
      else void this.reload();
    }, 1_000);
    retry.unref();
  }

  /**
   * Loads a JWK set from a file path or an `http(s)://` URL (or the first of several URLs that
   * answers: an issuer's replicas); fails if it cannot be loaded, unless `cacheFile` holds a copy.
   */
  static async open(spec: string | readonly string[], options: JwksSourceOptions = {}): Promise<JwksSource> {
    const specs = typeof spec === 'string' ? [spec] : [...spec];
    if (specs.length === 0) throw new ValetError('invalid_options', 'no JWK set to load');
    let loaded: Loaded | undefined;
    try {
      loaded = await loadFirst(specs, undefined);
    } catch (error) {
      loaded = options.cacheFile ? await loadKept(options.cacheFile) : undefined;
      if (loaded) {
        options.logger?.warn(
          { jwks: specs.map(displaySpec), kept: options.cacheFile, err: error },
          'the trusted keys cannot be fetched now: using the copy kept on disk (fetched again every minute)',
        );
      } else if (options.waitForKeys) {
        options.logger?.warn(
          { jwks: specs.map(displaySpec), err: error },
          'the trusted keys cannot be fetched yet: every key is answered 503 until they are (tried every second)',
        );
      } else throw error;
    }
    return new JwksSource(specs, loaded, options);
  }

  /**
   * Writes the current set to `cacheFile` now (a server calls it once its data directory
   * exists; later fetches keep it current). Never throws: a failure is logged.
   */
  async keep(): Promise<void> {
    const file = this.#options.cacheFile;
    if (!file || !this.#keys) return;
    try {
      await writeDurably(file, this.#text);
    } catch (error) {
      this.#options.logger?.warn({ err: error, file }, 'could not keep the trusted keys on disk');
    }
  }

  /** The ids of the keys currently trusted. */
  get kids(): string[] {
    return this.#keys?.kids ?? [];
  }

  /** True once a set is loaded (see `waitForKeys`). */
  get ready(): boolean {
    return this.#keys !== undefined;
  }

  get(kid: string): jose.CryptoKey | undefined | Promise<jose.CryptoKey | undefined> {
    if (!this.#keys) return this.reload().then(() => this.#keys?.get(kid) ?? this.#noKeysYet());
    const key = this.#keys.get(kid);
    if (key) return key;
    if (this.#options.now() - this.#lastRefresh < this.#options.unknownKidCooldown) return undefined;
    return this.reload().then(() => this.#keys?.get(kid));
  }

  #noKeysYet(): never {
    throw new ValetError(
      'unavailable',
      `storage does not have the issuer's public keys yet (${this.spec} does not answer); retry shortly`,
    );
  }

  /** Re-reads the set now (coalesced with a refresh already running). Never throws. */
  reload(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    this.#lastRefresh = this.#options.now();
    try {
      const loaded = await loadFirst(this.#specs, this.#version);
      if (!loaded) return;
      this.#keys = loaded.keys;
      this.#version = loaded.version;
      this.#text = loaded.text;
      if (this.#options.cacheFile && existsSync(path.dirname(this.#options.cacheFile))) await this.keep();
      this.#options.logger?.info({ jwks: this.spec, kids: loaded.keys.kids }, 'trusted keys reloaded');
    } catch (error) {
      // While storage waits for a first set it tries every second: said once, not every time.
      if (!this.#keys && this.#warnedWaiting) return;
      this.#warnedWaiting = !this.#keys;
      this.#options.logger?.warn(
        { jwks: this.spec, err: error },
        this.#keys
          ? 'could not reload trusted keys; keeping the previous set'
          : 'still no trusted keys: every key is answered 503 until they can be fetched',
      );
    }
  }

  /** Stops periodic refreshes. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}

function isUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/** A URL without query or credentials, for logs. */
function displaySpec(spec: string): string {
  if (!isUrl(spec)) return spec;
  const url = new URL(spec);
  return `${url.origin}${url.pathname}`;
}

/** A set as loaded: its keys, its version (file identity, ETag, or its text), and its text. */
interface Loaded {
  keys: TrustedKeys;
  version: string;
  text: string;
}

/** The set from the first source that answers (see {@link load}); the last failure if none does. */
async function loadFirst(specs: readonly string[], known: string | undefined): Promise<Loaded | undefined> {
  let failure: unknown;
  for (const spec of specs) {
    try {
      return await load(spec, known);
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

/** The copy an earlier run kept on disk, or undefined if there is none (or it is damaged). */
async function loadKept(file: string): Promise<Loaded | undefined> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return { keys: await TrustedKeys.fromJwks(JSON.parse(text)), version: `kept:${text}`, text };
  } catch {
    return undefined;
  }
}

/**
 * Loads the set unless its version (file identity and mtime, or HTTP ETag) is `known`.
 * Returns undefined when unchanged.
 */
async function load(spec: string, known: string | undefined): Promise<Loaded | undefined> {
  let text: string;
  let version: string;
  if (isUrl(spec)) {
    const response = await fetch(spec, {
      headers: { accept: 'application/json', ...(known ? { 'if-none-match': known } : {}) },
      redirect: 'error',
      signal: AbortSignal.timeout(5_000),
    });
    if (response.status === 304) return undefined;
    if (!response.ok)
      throw new ValetError('invalid_options', `GET ${displaySpec(spec)} answered ${response.status}`);
    text = await response.text();
    version = response.headers.get('etag') ?? `body:${text}`;
    if (version === known) return undefined;
  } else {
    const stat = await fs.stat(spec);
    version = `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (version === known) return undefined;
    text = await fs.readFile(spec, 'utf8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ValetError('invalid_options', `${displaySpec(spec)} is not JSON`, { cause });
  }
  return { keys: await TrustedKeys.fromJwks(json), version, text };
}
