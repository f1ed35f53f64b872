/**
 * `valet/client`: the browser and Node SDK. Gets a key from the issuer, then uploads and
 * downloads straight to and from storage, with progress, abort and retry. Zero runtime
 * dependencies.
 *
 * @example
 * ```ts
 * import { createClient } from 'valet/client'
 * const valet = createClient({ issuer: 'http://127.0.0.1:8080', getToken: async () => token })
 * const { key } = await valet.upload(new Blob(['hello']), { name: 'hello.txt' })
 * const text = await (await (await valet.download(key)).blob()).text()
 * ```
 */

export { type ErrorCode, isValetError, ValetError } from '../token/errors.js';
export {
  type BlobLike,
  type ClientOptions,
  createClient,
  type Download,
  fileResumeStore,
  type Grant,
  localStorageResumeStore,
  type Me,
  memoryResumeStore,
  type ObjectInfo,
  type Progress,
  type ReadUrl,
  type ResumeStore,
  type SavedUpload,
  type Share,
  type UploadData,
  type UploadOptions,
  type UploadResult,
  ValetClient,
} from './client.js';
export { NetworkError } from './errors.js';
