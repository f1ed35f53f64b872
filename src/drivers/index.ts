/**
 * `valet/drivers`: the storage driver interface the issuer signs through, and Valet's own storage
 * as a driver. Other stores have entry points of their own, so that their SDKs load only when used:
 * `valet/drivers/s3` (S3, Ceph RGW, MinIO, R2), `valet/drivers/memory` (in memory, for tests).
 * `valet/drivers/testing` has the contract suite every driver passes.
 *
 * @example
 * ```ts
 * import { ValetStorageDriver } from 'valet/drivers'
 * const issuer = await createIssuer({ driver: new ValetStorageDriver({ url: 'https://files.example.com' }), … })
 * ```
 */
export {
  CONSTRAINTS,
  type Constraint,
  type DriverContext,
  type Enforcement,
  type EnforcementTable,
  type HeadResult,
  type MultipartUploads,
  type ResumableUploads,
  type SignedRequest,
  type SignOptions,
  type StorageDriver,
  type StoredPart,
  type TusUploads,
} from './types.js';
export { ValetStorageDriver, type ValetStorageDriverOptions } from './valet.js';
