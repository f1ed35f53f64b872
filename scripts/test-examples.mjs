#!/usr/bin/env node
// The examples' tests (`npm run test:examples`, a CI step of its own: slower than `npm test`).
// Packs this package exactly as it would be published (`npm pack`, which builds it), installs
// the tarball with every example's dependencies into one temporary app, as a user installs a
// package, then runs test/examples/*.test.ts against that install (VALET_EXAMPLES names it).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'valet-examples-'));
const log = (line) => process.stderr.write(`== ${line}\n`);

log(`npm pack into ${work}`);
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
);
const tarball = path.join(work, packed[0].filename);

// One app that depends on the tarball and on everything the examples use.
const dependencies = {};
for (const example of readdirSync(path.join(root, 'examples'), { withFileTypes: true })) {
  if (!example.isDirectory()) continue;
  const pkg = JSON.parse(readFileSync(path.join(root, 'examples', example.name, 'package.json'), 'utf8'));
  Object.assign(dependencies, pkg.dependencies, pkg.devDependencies);
}
dependencies.valet = `file:${tarball}`;
const app = path.join(work, 'app');
execFileSync('mkdir', ['-p', app]);
writeFileSync(
  path.join(app, 'package.json'),
  `${JSON.stringify({ name: 'valet-examples', private: true, type: 'module', dependencies, allowScripts: { 'better-sqlite3': true } }, null, 2)}\n`,
);
log(`npm install (${Object.keys(dependencies).join(', ')})`);
const install = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: app, encoding: 'utf8' });
process.stderr.write(install.stdout + install.stderr);
if (install.status !== 0) process.exit(install.status ?? 1);
// What npm asks users to approve: never a script of Valet's own (it carries its build).
const asked = (install.stdout + install.stderr)
  .split('\n')
  .filter((line) => /install-scripts\s+valet@/.test(line));
if (asked.length > 0) {
  process.stderr.write(`npm asks to approve Valet's own install scripts:\n${asked.join('\n')}\n`);
  process.exit(1);
}

const tests = readdirSync(path.join(root, 'test/examples'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => path.join('test/examples', f));
const result = spawnSync(process.execPath, ['scripts/run-tests.mjs', ...tests, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, VALET_EXAMPLES: app },
});
process.exit(result.status ?? 1);
