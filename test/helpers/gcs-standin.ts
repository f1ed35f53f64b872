import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkPolicy, checkSignedUrl, Refusal, type Trust } from './gcs-standin-auth.js';

/**
 * A STAND-IN FOR GOOGLE CLOUD STORAGE, WRITTEN BY THE TESTS: not GCS, and no emulator. No GCS
 * emulator available here (none is in Debian or on npm) verifies V4 signatures, so the GCS
 * driver's protocol flows run against this: one bucket of the XML API, in memory, that checks V4
 * signed URLs and POST policies (gcs-standin-auth.ts), `x-goog-content-length-range`,
 * `x-goog-if-generation-match`, and resumable sessions (start with a signed POST, chunks at their
 * offset, 256 KiB granules persisted, the object made when the last byte comes, a status query,
 * cancel) as Google's documents describe them. What it proves is that the driver speaks that
 * protocol; that GCS behaves as documented is Google's word, not tested here.
 */

interface StoredObject {
  body: Buffer;
  contentType: string;
  generation: string;
  updated: number;
}

interface Session {
  object: string;
  /** The Origin header of the request that started it: only pages of it may send its chunks. */
  origin: string | undefined;
  contentType: string;
  declared: number | undefined;
  ifGenerationMatch: string | undefined;
  persisted: Buffer;
  state: 'open' | 'finished' | 'cancelled';
}

/** The bucket's CORS configuration, as `PUT /bucket?cors` set it. */
interface Cors {
  origins: string[];
  methods: string[];
  headers: string[];
}

export interface GcsStandIn {
  endpoint: string;
  bucket: string;
  cors(): Cors | undefined;
  objects: Map<string, StoredObject>;
  sessions: Map<string, Session>;
  /** Every request seen (method and path, never the query: it carries signatures). */
  seen: string[];
  close(): Promise<void>;
}

const GRANULE = 256 * 1024;
let generations = 1_700_000_000_000_000;

function xmlError(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(
    `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function objectHeaders(o: StoredObject): Record<string, string> {
  return {
    'content-type': o.contentType,
    'content-length': String(o.body.length),
    'x-goog-stored-content-length': String(o.body.length),
    'x-goog-generation': o.generation,
    etag: `"${o.generation}"`,
    'last-modified': new Date(o.updated).toUTCString(),
  };
}

function store(
  objects: Map<string, StoredObject>,
  name: string,
  body: Buffer,
  contentType: string,
  match?: string,
) {
  const existing = objects.get(name);
  if (match !== undefined && (existing?.generation ?? '0') !== match) {
    throw new Refusal(
      412,
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold.',
    );
  }
  const o = { body, contentType, generation: String(++generations), updated: Date.now() };
  objects.set(name, o);
  return o;
}

/** Starts the stand-in on 127.0.0.1 at a free port, trusting `trust`'s keys for `bucket`. */
export async function startGcsStandIn(trust: Trust, bucket = 'valet-bucket'): Promise<GcsStandIn> {
  const objects = new Map<string, StoredObject>();
  const sessions = new Map<string, Session>();
  const seen: string[] = [];
  let cors: Cors | undefined;
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (error instanceof Refusal) xmlError(res, error.status, error.code, error.message);
      else xmlError(res, 500, 'InternalError', String(error));
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const rawPath = (req.url ?? '/').split('?')[0] as string;
    seen.push(`${req.method} ${rawPath}`);
    const [, bucketName = '', ...rest] = rawPath.split('/');
    const name = decodeURIComponent(rest.join('/'));
    const origin = req.headers.origin;
    const session = url.searchParams.get('upload_id');
    if (req.method === 'OPTIONS') return preflight(req, res, cors);
    if (session !== null) {
      const s = sessions.get(session);
      if (origin !== undefined && origin === s?.origin) allowOrigin(res, origin, cors);
      return sessionRequest(req, res, s, objects);
    }
    if (origin !== undefined && cors?.origins.includes(origin)) allowOrigin(res, origin, cors);
    if (bucketName !== bucket) throw new Refusal(404, 'NoSuchBucket', 'The specified bucket does not exist.');
    const seenReq = { method: req.method ?? '', rawPath, query: url.searchParams, headers: req.headers };
    if (req.method === 'POST' && name === '' && !url.searchParams.has('X-Goog-Signature')) {
      return policyUpload(req, res, trust, bucket, objects);
    }
    checkSignedUrl(trust, seenReq, Date.now());
    const header = (n: string) => req.headers[n] as string | undefined;
    if (req.method === 'PUT' && name === '' && url.searchParams.has('cors')) {
      const xml = (await bodyOf(req)).toString();
      const all = (tag: string) =>
        [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1] as string);
      cors = { origins: all('Origin'), methods: all('Method'), headers: all('ResponseHeader') };
      return res.writeHead(200).end();
    }
    if (req.method === 'POST') {
      if (header('x-goog-resumable') !== 'start')
        throw new Refusal(400, 'InvalidArgument', 'POST starts sessions only');
      const id = randomBytes(16).toString('hex');
      const declared = header('x-upload-content-length');
      sessions.set(id, {
        object: name,
        origin: header('origin'),
        contentType: header('content-type') ?? 'application/octet-stream',
        declared: declared === undefined ? undefined : Number(declared),
        ifGenerationMatch: header('x-goog-if-generation-match'),
        persisted: Buffer.alloc(0),
        state: 'open',
      });
      res.writeHead(201, {
        location: `http://${req.headers.host}/${bucket}/${rest.join('/')}?upload_id=${id}`,
      });
      return res.end();
    }
    const existing = objects.get(name);
    const match = header('x-goog-if-generation-match');
    if (req.method === 'PUT') {
      const body = await bodyOf(req);
      const range = header('x-goog-content-length-range');
      if (range !== undefined) {
        const [min, max] = range.split(',').map(Number) as [number, number];
        if (body.length > max)
          throw new Refusal(
            400,
            'EntityTooLarge',
            'Your proposed upload is larger than the maximum object size specified in your Policy Document.',
          );
        if (body.length < min)
          throw new Refusal(
            400,
            'EntityTooSmall',
            'Your proposed upload is smaller than the minimum object size specified in your Policy Document.',
          );
      }
      const o = store(objects, name, body, header('content-type') ?? 'application/octet-stream', match);
      res.writeHead(200, { etag: `"${o.generation}"`, 'x-goog-generation': o.generation });
      return res.end();
    }
    if (!existing) throw new Refusal(404, 'NoSuchKey', 'The specified key does not exist.');
    if (match !== undefined && existing.generation !== match) {
      throw new Refusal(
        412,
        'PreconditionFailed',
        'At least one of the pre-conditions you specified did not hold.',
      );
    }
    if (req.method === 'DELETE') {
      objects.delete(name);
      return res.writeHead(204).end();
    }
    const headers = objectHeaders(existing);
    const type = url.searchParams.get('response-content-type');
    const disposition = url.searchParams.get('response-content-disposition');
    if (type !== null) headers['content-type'] = type;
    if (disposition !== null) headers['content-disposition'] = disposition;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : existing.body);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    objects,
    sessions,
    seen,
    cors: () => cors,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers a page on an allowed origin (the bucket's CORS configuration, or a session's origin). */
function allowOrigin(res: ServerResponse, origin: string, cors: Cors | undefined) {
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  if (cors) res.setHeader('access-control-expose-headers', cors.headers.join(', '));
}

/** A CORS preflight, answered from the bucket's CORS configuration. */
function preflight(req: IncomingMessage, res: ServerResponse, cors: Cors | undefined): void {
  const origin = req.headers.origin ?? '';
  const method = String(req.headers['access-control-request-method'] ?? '');
  const asked = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  const allowed = new Set(cors?.headers.map((h) => h.toLowerCase()));
  if (
    !cors?.origins.includes(origin) ||
    !cors.methods.includes(method) ||
    !asked.every((h) => allowed.has(h))
  ) {
    res.writeHead(403).end();
    return;
  }
  res.writeHead(200, {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': cors.methods.join(', '),
    'access-control-allow-headers': asked.join(', '),
    'access-control-max-age': '600',
    vary: 'Origin',
  });
  res.end();
}

/** A request to a session URI: a chunk, a status query (`bytes *\/total`) or a cancel. */
async function sessionRequest(
  req: IncomingMessage,
  res: ServerResponse,
  s: Session | undefined,
  objects: Map<string, StoredObject>,
) {
  const body = await bodyOf(req);
  if (!s || s.state === 'cancelled') throw new Refusal(404, 'NoSuchUpload', 'No such upload session.');
  if (req.method === 'DELETE') {
    s.state = 'cancelled';
    return res.writeHead(499).end();
  }
  if (req.method !== 'PUT') throw new Refusal(405, 'MethodNotAllowed', 'PUT chunks to a session');
  const finished = () => {
    const o = objects.get(s.object) as StoredObject;
    res.writeHead(200, { ...objectHeaders(o), 'content-length': '0' });
    res.end();
  };
  if (s.state === 'finished') return finished();
  const range = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(String(req.headers['content-range'] ?? ''));
  if (!range) throw new Refusal(400, 'InvalidArgument', 'a chunk needs a Content-Range');
  const [, first, last, totalText] = range;
  const total = totalText === '*' ? undefined : Number(totalText);
  if (s.declared !== undefined && total !== undefined && total !== s.declared) {
    throw new Refusal(400, 'InvalidArgument', 'the total differs from x-upload-content-length');
  }
  if (first !== undefined) {
    const start = Number(first);
    if (Number(last) - start + 1 !== body.length)
      throw new Refusal(400, 'InvalidArgument', 'the range is not the body');
    if (start > s.persisted.length)
      throw new Refusal(400, 'InvalidArgument', 'a chunk past the persisted bytes');
    // Bytes the session already persisted are ignored (a resent chunk).
    const fresh = body.subarray(s.persisted.length - start);
    const end = start + body.length;
    if (total !== undefined && end === total) {
      s.persisted = Buffer.concat([s.persisted, fresh]);
      store(objects, s.object, s.persisted, s.contentType, s.ifGenerationMatch);
      s.state = 'finished';
      return finished();
    }
    if (total !== undefined && end > total)
      throw new Refusal(400, 'InvalidArgument', 'a chunk past the total');
    // Only whole 256 KiB granules are persisted before the last chunk.
    const keep = Math.floor(end / GRANULE) * GRANULE - s.persisted.length;
    if (keep > 0) s.persisted = Buffer.concat([s.persisted, fresh.subarray(0, keep)]);
  }
  res.writeHead(308, s.persisted.length > 0 ? { range: `bytes=0-${s.persisted.length - 1}` } : {});
  res.end();
}

/** An HTML form upload with a V4 POST policy. */
async function policyUpload(
  req: IncomingMessage,
  res: ServerResponse,
  trust: Trust,
  bucket: string,
  objects: Map<string, StoredObject>,
) {
  const form = await new Request('http://stand-in/', {
    method: 'POST',
    headers: { 'content-type': String(req.headers['content-type']) },
    body: await bodyOf(req),
  }).formData();
  const fields = new Map<string, string>();
  let file: Buffer | undefined;
  for (const [k, v] of form.entries()) {
    if (typeof v === 'string') fields.set(k, v);
    else file = Buffer.from(await v.arrayBuffer());
  }
  if (!file) throw new Refusal(400, 'InvalidArgument', 'no file');
  checkPolicy(trust, fields, file.length, bucket, Date.now());
  store(objects, fields.get('key') ?? '', file, fields.get('Content-Type') ?? 'application/octet-stream');
  res.writeHead(204).end();
}
