// The identity of a checkout's TypeScript sources: the SHA-256 of every source file (tests aside)
// and its path. `npm run build` records it in dist/build.json; bin/valet.js runs the build only
// when it was made from these very sources, whatever the files' times say.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

function sourceFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(full));
    else if (/\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) files.push(full);
  }
  return files;
}

/** The hash of the sources under `root`/src (hex). */
export function sourceHash(root) {
  const src = path.join(root, 'src');
  const hash = createHash('sha256');
  for (const file of sourceFiles(src).sort()) {
    hash.update(path.relative(src, file).split(path.sep).join('/'));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}
