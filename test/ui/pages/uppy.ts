// The test page for valet/uppy: Uppy's Dashboard uploading through the plugin. The query string
// picks the user, the rule and the client's resumable chunking.
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import { createClient } from '../../../src/client/index.js';
import { ValetUploader } from '../../../src/uppy/index.js';

const params = new URLSearchParams(location.search);
const client = createClient({
  issuer: location.origin,
  getToken: () => `user:${params.get('user') ?? 'alice'}`,
  retries: 2,
  retryDelay: 100,
  chunkSize: Number(params.get('chunk') ?? 4 * 2 ** 20),
  resumableThreshold: Number(params.get('threshold') ?? 8 * 2 ** 20),
});
const rule = params.get('rule');
const uppy = new Uppy({ debug: true })
  .use(Dashboard, { inline: true, target: '#app', proudlyDisplayPoweredByUppy: false })
  .use(ValetUploader, { client, ...(rule && { rule }) });
(window as unknown as { uppy: typeof uppy }).uppy = uppy;
