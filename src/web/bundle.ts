import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The page's script as the build bundled it (`dist/web/app.js`, next to this module once built). */
const BUILT = new URL('./app.js', import.meta.url);
const ENTRY = fileURLToPath(new URL('../../src/web/browser/app.ts', import.meta.url));

/**
 * The demo page's script with the `valet/client` SDK, as one ES module. An installed package
 * serves the bundle its build made (scripts/build.mjs); run from the sources (a clone), it is
 * bundled here with esbuild (a development dependency), in memory, in about 50 ms.
 */
export async function bundleWebApp(): Promise<string> {
  try {
    return await readFile(BUILT, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const esbuild = await import('esbuild');
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
