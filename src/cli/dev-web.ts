import type http from 'node:http';
import { toNodeListener } from '../issuer/http/node.js';
import type { Issuer } from '../issuer/issuer.js';
import { demoPage, demoPageCsp, FAVICON_SVG } from '../web/page.js';
import { DEV_IDP_PATH, type DevIdentityProvider } from './dev-idp.js';

/** What `valet dev`'s web port serves from: its issuer once up, and where things are. */
export interface DevWebState {
  base: string;
  storageOrigin: string;
  issuer?: Pick<Issuer, 'fetch'>;
}

/** The demo page's own files, answered for GET. */
const PAGE_FILES = new Set(['/', '/favicon.svg', '/app.js']);

/** True for a request the development provider or the demo page answers, not the issuer. */
function isDevRequest(req: http.IncomingMessage): boolean {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  return pathname.startsWith(`${DEV_IDP_PATH}/`) || (req.method === 'GET' && PAGE_FILES.has(pathname));
}

/**
 * The listener of `valet dev`'s web port: the development OpenID provider and the demo page
 * through a small fetch handler, and everything else straight to the issuer's own Node listener,
 * which builds no WHATWG Request or Response per call (issue 29: wrapping every issuer request in
 * one was 17.5 % of `valet dev`'s minting profile). Until the issuer is up, it answers 503.
 */
export function devWebListener(
  state: DevWebState,
  idp: DevIdentityProvider,
  script: string,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const dev = toNodeListener({
    fetch: async (request) => {
      const fromIdp = await idp.handle(request, state.base);
      if (fromIdp) return fromIdp;
      const { pathname } = new URL(request.url);
      const get = request.method === 'GET';
      if (get && pathname === '/favicon.svg') {
        return new Response(FAVICON_SVG, {
          headers: { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=86400' },
        });
      }
      if (get && pathname === '/app.js') {
        return new Response(script, {
          headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' },
        });
      }
      if (get && pathname === '/') {
        return new Response(demoPage(), {
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': demoPageCsp(state.storageOrigin),
            'x-content-type-options': 'nosniff',
            'referrer-policy': 'no-referrer',
          },
        });
      }
      return Response.json({ error: { code: 'unavailable', message: 'starting' } }, { status: 503 });
    },
  });
  let mounted: { issuer: Pick<Issuer, 'fetch'>; listener: ReturnType<typeof toNodeListener> } | undefined;
  return (req, res) => {
    const issuer = state.issuer;
    if (!issuer || isDevRequest(req)) return dev(req, res);
    if (mounted?.issuer !== issuer) mounted = { issuer, listener: toNodeListener(issuer) };
    mounted.listener(req, res);
  };
}
