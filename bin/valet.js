#!/usr/bin/env node
// The `valet` command. Runs the compiled build (dist/, made by `npm install` or `npm run build`)
// when dist/build.json says it was built from exactly these sources (their content, not their
// file times: a copied or freshly cloned build is used as it is), and the TypeScript sources
// through tsx's loader otherwise, so an edited source is never shadowed by a stale build. The
// build starts faster and holds about 35 MB less memory. VALET_FROM_SOURCE=1 forces the sources.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sourceHash } from './source-hash.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function buildMatches() {
  if (process.env.VALET_FROM_SOURCE) return false;
  let built;
  try {
    built = JSON.parse(readFileSync(`${root}dist/build.json`, 'utf8')).sources;
  } catch {
    return false;
  }
  if (built === sourceHash(root)) return true;
  if (process.stderr.isTTY) {
    process.stderr.write(
      'valet: dist/ was built from other sources; running src/ (npm run build to update)\n',
    );
  }
  return false;
}

if (buildMatches()) {
  await import('../dist/cli/main.js');
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    // An installed package always has its build; without one, the sources need tsx (a clone's
    // development dependency).
    process.stderr.write('valet: no build of these sources in dist/ and no tsx to run them: npm run build\n');
    process.exit(1);
  }
  register();
  await import('../src/cli/main.ts');
}
