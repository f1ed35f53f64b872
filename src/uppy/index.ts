/**
 * `valet/uppy`: an Uppy uploader plugin. Any Uppy interface (Dashboard, Drag & Drop, a custom
 * one) uploads through a Valet issuer straight to storage, with Uppy's progress, pause, resume,
 * retry and cancel. `@uppy/core` (v6) is an optional peer dependency of this entry point only.
 *
 * @example
 * ```ts
 * import Uppy from '@uppy/core'
 * import Dashboard from '@uppy/dashboard'
 * import { ValetUploader } from 'valet/uppy'
 *
 * new Uppy()
 *   .use(Dashboard, { inline: true, target: '#uploads' })
 *   .use(ValetUploader, { issuer: 'https://app.example.com', getToken: () => session.token })
 * ```
 */
export { type ValetUploadBody, ValetUploader, type ValetUploaderOptions } from './plugin.js';
