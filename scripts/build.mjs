#!/usr/bin/env node
// After `tsc`: finishes the build in dist/. Bundles the demo page's script with the client SDK
// (dist/web/app.js: `valet dev` serves it as it is, so an installed package needs no bundler at
// run time), and records which sources dist/ was built from (dist/build.json), so that
// bin/valet.js runs the build only for those sources. Also compiles the browser-side entry
// points (valet/uppy, valet/react), whose DOM types tsconfig.build.json keeps out of the rest.
// Arguments: the package root and the dist directory (default: this checkout's).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { sourceHash } from '../bin/source-hash.js';

const root = path.resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));
const dist = path.resolve(process.argv[3] ?? path.join(root, 'dist'));
await esbuild.build({
  entryPoints: [path.join(root, 'src/web/browser/app.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2020',
  platform: 'browser',
  minify: true,
  outfile: path.join(dist, 'web/app.js'),
  logLevel: 'warning',
});
// The UI entry points import the client by relative path, so tsc emits it again: only their own
// folders are taken from that second compilation.
const scratch = path.join(dist, '.ui-build');
const here = fileURLToPath(new URL('..', import.meta.url));
execFileSync(
  process.execPath,
  [
    path.join(here, 'node_modules/typescript/bin/tsc'),
    '-p',
    path.join(here, 'tsconfig.ui-build.json'),
    '--outDir',
    scratch,
  ],
  { stdio: 'inherit' },
);
for (const entry of ['uppy', 'react']) {
  rmSync(path.join(dist, entry), { recursive: true, force: true });
  if (existsSync(path.join(scratch, entry)))
    cpSync(path.join(scratch, entry), path.join(dist, entry), { recursive: true });
}
rmSync(scratch, { recursive: true, force: true });
writeFileSync(path.join(dist, 'build.json'), `${JSON.stringify({ sources: sourceHash(root) })}\n`);
