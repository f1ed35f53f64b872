import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Issuer } from '../../src/issuer/issuer.js';
import { ROOT } from './storage.js';
import type { ServedIssuer } from './system.js';

/** Bundles a test page's script (test/ui/pages/NAME.ts[x]) for the browser with esbuild, in memory. */
export async function bundlePage(entry: string): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(ROOT, 'test/ui/pages', entry)],
    bundle: true,
    format: 'esm',
    target: 'es2020',
    platform: 'browser',
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

/**
 * Serves a test page on the issuer's own origin (the way an app serves its pages next to its
 * mounted issuer): `/` the HTML, `/app.js` the bundle, `/app.css` the given style sheets from
 * node_modules; every other path goes to the issuer.
 */
export async function servePage(
  served: ServedIssuer,
  issuer: Pick<Issuer, 'fetch'>,
  page: { entry: string; css?: string[] },
): Promise<string> {
  const script = await bundlePage(page.entry);
  const css = (
    await Promise.all((page.css ?? []).map((file) => readFile(path.join(ROOT, 'node_modules', file), 'utf8')))
  ).join('\n');
  const html =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>test page</title>' +
    '<link rel="stylesheet" href="/app.css"></head><body><main id="app"></main>' +
    '<script type="module" src="/app.js"></script></body></html>';
  const files: Record<string, [string, string]> = {
    '/': ['text/html; charset=utf-8', html],
    '/app.js': ['text/javascript; charset=utf-8', script],
    '/app.css': ['text/css; charset=utf-8', css],
  };
  served.mount({
    fetch: (request, info) => {
      const file = request.method === 'GET' ? files[new URL(request.url).pathname] : undefined;
      if (!file) return issuer.fetch(request, info);
      return Promise.resolve(new Response(file[1], { headers: { 'content-type': file[0] } }));
    },
  });
  return `${served.url}/`;
}
