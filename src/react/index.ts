/**
 * `valet/react`: uploads through a Valet issuer from React. `useUpload` gives one upload's state
 * (status, progress, result, error) with `upload`, `cancel` and `reset`; `useUploads` a queue of
 * files (per-file progress, cancel, a concurrency limit); `DropZone` is a minimal,
 * unstyled drop zone built on it. React 18 or 19 is an optional peer dependency of this entry
 * point only.
 *
 * @example
 * ```tsx
 * import { createClient } from 'valet/client'
 * import { DropZone } from 'valet/react'
 * const valet = createClient({ issuer: 'https://app.example.com/api/valet', getToken: () => session.token })
 * <DropZone client={valet} accept="image/*" onUploaded={(r) => console.log(r.object)} />
 * ```
 */
export { DropZone, type DropZoneProps } from './drop-zone.js';
export { type UploadState, type UploadStatus, type UseUpload, useUpload } from './use-upload.js';
export { type UploadItem, type UseUploads, type UseUploadsOptions, useUploads } from './use-uploads.js';
