/**
 * `valet/storage`: Valet's own object server, which honours valet keys.
 *
 * @example
 * ```ts
 * import { createStorageServer, JwksSource } from 'valet/storage'
 * const storage = await createStorageServer({ dataDir: './data', keys: await JwksSource.open('jwks.json') })
 * console.log(await storage.listen(9000))
 * ```
 */
export { CorsPolicy, type CorsRules } from '../wire/cors.js';
export { contentDisposition, DOWNLOAD_CSP, isInlineType } from '../wire/serving.js';
export { storageCors } from './cors.js';
export { JwksSource, type JwksSourceOptions } from './key-source.js';
export { UsedKeyLedger } from './ledger.js';
export { parseRange, type RangeResult } from './range.js';
export { createStorageServer, type StorageServer, type StorageServerOptions } from './server.js';
export { FileStore, HEADER_SIZE, type ObjectMeta } from './store.js';
