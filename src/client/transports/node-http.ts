import { networkError } from '../errors.js';

const NODE_HTTP = 'node:http';
const NODE_HTTPS = 'node:https';

// The part of node:http the client uses (it compiles without Node's types, for browsers).
interface NodeRequest {
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(error?: Error): void;
  on(event: 'response', listener: (res: NodeResponse) => void): void;
  on(event: 'error' | 'drain' | 'close', listener: (error?: unknown) => void): void;
  once(event: 'drain' | 'close', listener: () => void): void;
  off(event: 'drain' | 'close', listener: () => void): void;
}
interface NodeResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  on(event: 'data', listener: (chunk: Uint8Array) => void): void;
  on(event: 'end' | 'error', listener: (error?: unknown) => void): void;
}
interface NodeHttp {
  request(
    url: string,
    options: { method: string; headers: Record<string, string>; signal?: AbortSignal },
  ): NodeRequest;
}

/**
 * Sends a request body with node:http(s), writing no faster than the server reads; resolves with
 * the answer as a web Response.
 */
export async function nodeSend(
  url: string,
  method: string,
  headers: Record<string, string>,
  source: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
  onSent: (bytes: number) => void,
): Promise<Response> {
  const http = (await import(url.startsWith('https:') ? NODE_HTTPS : NODE_HTTP)) as NodeHttp;
  const reader = source.getReader();
  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      reader.cancel().catch(() => {});
      reject(networkError(error, signal, new URL(url).origin, 'storage'));
    };
    let req: NodeRequest;
    try {
      req = http.request(url, { method, headers, ...(signal && { signal }) });
    } catch (error) {
      fail(error);
      return;
    }
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Uint8Array[] = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        reader.cancel().catch(() => {});
        const answer = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) answer.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        const status = res.statusCode ?? 502;
        const body = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
        let at = 0;
        for (const c of chunks) {
          body.set(c, at);
          at += c.byteLength;
        }
        resolve(new Response(status === 204 || status === 304 ? null : body, { status, headers: answer }));
      });
    });
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done || settled) break;
          onSent(value.byteLength);
          if (!req.write(value)) {
            await new Promise<void>((resume) => {
              const go = () => {
                req.off('drain', go);
                req.off('close', go);
                resume();
              };
              req.once('drain', go);
              req.once('close', go);
            });
          }
        }
        if (!settled) req.end();
      } catch (error) {
        req.destroy(error as Error);
        fail(error);
      }
    })();
  });
}
