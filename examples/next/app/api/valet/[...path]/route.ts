// Every issuer route, under /api/valet: one catch-all file.
import { valet } from '../../../../lib/valet';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

/**
 * The request as the browser addressed it. Next's `request.url` names the server's own host
 * (`localhost`), not the one the user typed, and the issuer builds share links from it. So the
 * URL is rebuilt from the `Host` header; behind a proxy you trust (`TRUST_PROXY=1`), from its
 * `X-Forwarded-Host` and `X-Forwarded-Proto`. `PUBLIC_URL` (the issuer's `publicUrl`, see
 * lib/valet.ts) fixes the links' origin whatever the request says.
 */
function asAddressed(request: Request): Request {
  const url = new URL(request.url);
  const proxied = process.env.TRUST_PROXY === '1';
  const host = (proxied && request.headers.get('x-forwarded-host')) || request.headers.get('host');
  const proto = (proxied && request.headers.get('x-forwarded-proto')) || url.protocol.slice(0, -1);
  if (!host) return request;
  return new Request(`${proto}://${host}${url.pathname}${url.search}`, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: request.signal,
    duplex: 'half', // a streamed body (Node's fetch needs it said)
  } as RequestInit);
}

async function handle(request: Request): Promise<Response> {
  return (await valet()).fetch(asAddressed(request));
}

export { handle as DELETE, handle as GET, handle as OPTIONS, handle as POST };
