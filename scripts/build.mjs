#!/usr/bin/env node
// After `tsc`: records which sources dist/ was built from (dist/build.json), so that bin/valet.js
// runs the build only for those sources. The package root is the argument (default: this checkout).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceHash } from '../bin/source-hash.js';

const root = path.resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)));
const dist = path.resolve(process.argv[3] ?? path.join(root, 'dist'));
writeFileSync(path.join(dist, 'build.json'), `${JSON.stringify({ sources: sourceHash(root) })}\n`);
