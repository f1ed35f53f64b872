import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ENTRY = fileURLToPath(new URL('../../src/web/browser/app.ts', import.meta.url));

/**
 * Bundles the demo page's script with the `valet/client` SDK into one ES module (esbuild, in
 * memory, about 50 ms). The sources ship in the package, so this works from a clone and from an
 * install alike.
 */
export async function bundleWebApp(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    target: 'es2020',
    platform: 'browser',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}
