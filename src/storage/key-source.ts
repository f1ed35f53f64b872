import * as fs from 'node:fs/promises';
import type * as jose from 'jose';
import type { Logger } from 'pino';
import { ValetError } from '../token/errors.js';
import { type KeyResolver, TrustedKeys } from '../token/keys.js';

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
  #keys: TrustedKeys;
  #version: string;
  #lastRefresh: number;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #options: Required<Pick<JwksSourceOptions, 'unknownKidCooldown' | 'now'>> & JwksSourceOptions;

  private constructor(spec: string, keys: TrustedKeys, version: string, options: JwksSourceOptions) {
    this.spec = spec;
    this.#keys = keys;
    this.#version = version;
    const remote = isUrl(spec);
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
  }

  /** Loads a JWK set from a file path or an `http(s)://` URL; fails if it cannot be loaded. */
  static async open(spec: string, options: JwksSourceOptions = {}): Promise<JwksSource> {
    const loaded = await load(spec, undefined);
    if (!loaded) throw new ValetError('invalid_options', `cannot load the JWK set ${spec}`);
    return new JwksSource(spec, loaded.keys, loaded.version, options);
  }

  /** The ids of the keys currently trusted. */
  get kids(): string[] {
    return this.#keys.kids;
  }

  get(kid: string): jose.CryptoKey | undefined | Promise<jose.CryptoKey | undefined> {
    const key = this.#keys.get(kid);
    if (key) return key;
    if (this.#options.now() - this.#lastRefresh < this.#options.unknownKidCooldown) return undefined;
    return this.reload().then(() => this.#keys.get(kid));
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
      const loaded = await load(this.spec, this.#version);
      if (!loaded) return;
      this.#keys = loaded.keys;
      this.#version = loaded.version;
      this.#options.logger?.info(
        { jwks: displaySpec(this.spec), kids: loaded.keys.kids },
        'trusted keys reloaded',
      );
    } catch (error) {
      this.#options.logger?.warn(
        { jwks: displaySpec(this.spec), err: error },
        'could not reload trusted keys; keeping the previous set',
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

/**
 * Loads the set unless its version (file identity and mtime, or HTTP ETag) is `known`.
 * Returns undefined when unchanged.
 */
async function load(
  spec: string,
  known: string | undefined,
): Promise<{ keys: TrustedKeys; version: string } | undefined> {
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
  return { keys: await TrustedKeys.fromJwks(json), version };
}
