// The client process of the resumable benchmark (bench only):
//   resumable-client.ts --issuer URL --file FILE --name NAME --mode put|resumable
// Uploads FILE with the Valet client SDK, as one PUT or as a resumable (tus) upload with the
// default chunk size, then prints one JSON line: seconds, bytes, peak RSS (bytes), SHA-256.
import { parseArgs } from 'node:util';
import { createClient } from '../src/client/client.js';
import { openFile } from '../src/client/node.js';

const { values } = parseArgs({
  options: {
    issuer: { type: 'string' },
    file: { type: 'string' },
    name: { type: 'string' },
    mode: { type: 'string' },
  },
});
const client = createClient({
  issuer: values.issuer as string,
  getToken: () => 'user:alice',
  resumeStore: null,
});
const blob = await openFile(values.file as string);
const started = performance.now();
const result = await client.upload(blob, {
  name: values.name as string,
  resumable: values.mode === 'resumable',
});
const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `${JSON.stringify({
    seconds,
    bytes: result.size,
    sha256: result.sha256,
    resumable: result.upload !== undefined,
    peakRss: process.resourceUsage().maxRSS * 1024,
  })}\n`,
);
