import http from 'node:http';
import net from 'node:net';

/** A response read in full. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body as JSON, or undefined. */
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/**
 * Sends a request with a raw, unnormalised path (fetch would resolve `..` and `%2e%2e`), and an
 * optional body given as chunks sent with pauses. Resolves with the response, even if the server
 * answers before the body is fully sent.
 */
export function request(
  base: string,
  options: {
    method?: string;
    path: string;
    headers?: http.OutgoingHttpHeaders;
    body?: Buffer | string | AsyncIterable<Buffer>;
    agent?: http.Agent | false;
  },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: options.method ?? 'GET',
      path: options.path,
      headers: options.headers,
      agent: options.agent ?? false,
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json = {};
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const body = options.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      req.end(body);
      return;
    }
    void (async () => {
      try {
        for await (const chunk of body) {
          if (answered || req.destroyed) break;
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      } catch (error) {
        req.destroy(error as Error);
      }
    })();
  });
}

/** Sends raw bytes over TCP and returns everything the server sent back until it closed. */
export function rawExchange(
  base: string,
  data: string | Buffer,
  options: { halfClose?: boolean } = {},
): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(data);
      if (options.halfClose) socket.end();
    });
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      out += d;
    });
    socket.on('close', () => resolve(out));
    socket.on('error', (e) => (out ? resolve(out) : reject(e)));
    socket.setTimeout(15_000, () => socket.destroy());
  });
}

/** Yields `count` chunks of `size` bytes (filled with `fill`), waiting `delayMs` between them. */
export async function* chunks(count: number, size: number, delayMs = 0, fill = 0x61): AsyncIterable<Buffer> {
  for (let i = 0; i < count; i++) {
    if (delayMs > 0 && i > 0) await new Promise((r) => setTimeout(r, delayMs));
    yield Buffer.alloc(size, fill);
  }
}
