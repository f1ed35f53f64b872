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
export { JwksSource, type JwksSourceOptions } from './access/key-source.js';
export { UsedKeyLedger } from './access/ledger.js';
export { FileStore, HEADER_SIZE, type ObjectMeta } from './disk/store.js';
export { storageCors } from './http/cors.js';
export { parseRange, type RangeResult } from './http/range.js';
export { createStorageServer, type StorageServer, type StorageServerOptions } from './server.js';
