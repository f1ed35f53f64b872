// The app process of bench:validate (bench only):
//   validate-app.ts --storage URL --key FILE --secret FILE --db FILE --clamd HOST:PORT
// An issuer whose upload rules validate with one validator each: `type/` the true type, `clamav/`
// a ClamAV scan, `hook/` the app's own hook (it reads every byte: a SHA-256 of the stream), and
// `none/` nothing (the baseline: published as soon as recorded). `GET /memory` answers the
// process's peak resident memory (VmHWM), bytes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { toNodeListener } from '../src/issuer/http/node.js';
import { createIssuer } from '../src/issuer/issuer.js';
import type { Rule } from '../src/issuer/rules.js';
import type { ValidateHook } from '../src/issuer/validation/validators.js';

const { values } = parseArgs({
  options: {
    storage: { type: 'string' },
    key: { type: 'string' },
    secret: { type: 'string' },
    db: { type: 'string' },
    clamd: { type: 'string' },
  },
});

const hashAll: ValidateHook = async (_object, open) => {
  const hash = createHash('sha256');
  for await (const chunk of await open()) hash.update(chunk as Buffer);
  hash.digest();
  return { ok: true };
};
const put = (prefix: string, validate?: Rule['validate']): Rule => ({
  op: 'put',
  prefix: `${prefix}/{subject}/`,
  maxSize: 4 * 2 ** 30,
  ...(validate && { validate }),
});
const issuer = await createIssuer({
  signingKeys: [JSON.parse(readFileSync(values.key as string, 'utf8'))],
  storageUrl: values.storage as string,
  storageSecret: readFileSync(values.secret as string, 'utf8').trim(),
  database: values.db as string,
  authenticate: (request: Request) =>
    /^Bearer user:(\w+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null,
  rules: {
    none: put('none'),
    type: put('type', ['type']),
    clamav: put('clamav', ['clamav']),
    hook: put('hook', [hashAll]),
    read: { op: 'get', prefix: 'none/{subject}/' },
  },
  validation: { clamd: values.clamd as string, concurrency: 2 },
  // Warnings (a validation retried) go to the app's log file in the bench's work folder.
  logger: pino({ level: 'warn' }, pino.destination(2)),
});
const listener = toNodeListener(issuer);
const server = http.createServer((req, res) => {
  if (req.url === '/memory') {
    const status = readFileSync('/proc/self/status', 'utf8');
    res.end(String(Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]) * 1024));
    return;
  }
  listener(req, res);
});
server.listen(Number(process.env.APP_PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  server.close();
  void issuer.close().then(() => process.exit(0));
});
