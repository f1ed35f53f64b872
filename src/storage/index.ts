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
export { JwksSource, type JwksSourceOptions } from './access/key-source.js';
export { createStorageServer, type StorageServer, type StorageServerOptions } from './server.js';
