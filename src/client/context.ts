import { ValetError } from '../token/errors.js';
import type { ClientOptions } from './types.js';

const DEFAULT_RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;

/** What every part of the client shares: its options with their defaults, checked once. */
export interface ClientContext {
  readonly options: ClientOptions;
  /** The issuer's base URL, without a trailing slash. */
  readonly issuer: string;
  readonly fetch: typeof globalThis.fetch;
  /** True when the caller gave a fetch of their own: every request then goes through it. */
  readonly customFetch: boolean;
  readonly retries: number;
  readonly retryDelay: number;
  readonly now: () => number;
  readonly threshold: number;
  readonly chunkSize: number;
}

/** The context for `options`; `invalid_options` for a bad issuer URL, token hook or chunk size. */
export function clientContext(options: ClientOptions): ClientContext {
  if (typeof options?.issuer !== 'string' || !/^https?:\/\//.test(options.issuer)) {
    throw new ValetError('invalid_options', 'issuer must be an http(s) URL');
  }
  if (typeof options.getToken !== 'function')
    throw new ValetError('invalid_options', 'getToken must be a function');
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!(chunkSize >= 1)) throw new ValetError('invalid_options', 'chunkSize must be at least 1 byte');
  return {
    options,
    issuer: options.issuer.replace(/\/+$/, ''),
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    customFetch: options.fetch !== undefined,
    retries: options.retries ?? 3,
    retryDelay: options.retryDelay ?? 500,
    now: options.now ?? Date.now,
    threshold: options.resumableThreshold ?? DEFAULT_RESUMABLE_THRESHOLD,
    chunkSize,
  };
}
