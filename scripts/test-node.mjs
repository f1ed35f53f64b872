#!/usr/bin/env node
// Runs the tests on each supported Node.js major with binaries from the npm registry's `node`
// package, whatever Node runs this script: the whole test command on the newest LTS, the core
// suites (nothing but Node and Valet: npm run test:core) on each other major. The machine's own
// Node runs `npm test` as the README says; this is the rest of the matrix.
//
//   node scripts/test-node.mjs            # the matrix below
//   node scripts/test-node.mjs 24 core    # one major, whole ("all") or core
//
// The registry's binary is put first on the PATH and npm is run as a user with that Node
// installed would run it (not inside `npx -p node@N`, whose own settings would reach every `npx`
// the tests run and make it look for the `node` package's commands instead of valet's).
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** Majors users run, newest LTS first (it runs everything). Node 26 has been LTS since October 2026. */
const MATRIX = [
  ['26', 'all'],
  ['24', 'core'],
  ['22', 'core'],
];

/** The directory of the registry's Node binary of one major (downloaded once into npm's cache). */
function nodeBin(major) {
  const probe = spawnSync('npx', ['-y', '-p', `node@${major}`, '--', 'node', '-p', 'process.execPath'], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) {
    throw new Error(`could not get Node.js ${major} from the npm registry's node package:\n${probe.stderr}`);
  }
  return path.dirname(probe.stdout.trim());
}

const [major, scope] = process.argv.slice(2);
const runs = major ? [[major, scope ?? 'core']] : MATRIX;
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
const failed = [];
for (const [version, what] of runs) {
  const command = what === 'all' ? ['test'] : ['run', 'test:core'];
  const bin = nodeBin(version);
  const runEnv = { ...env, PATH: `${bin}${path.delimiter}${env.PATH ?? ''}` };
  const shown = spawnSync('node', ['--version'], { env: runEnv, encoding: 'utf8' }).stdout.trim();
  console.log(`\n== Node.js ${shown}: npm ${command.join(' ')}`);
  const result = spawnSync('npm', command, { stdio: 'inherit', env: runEnv });
  if (result.status !== 0) failed.push(`Node.js ${shown}: npm ${command.join(' ')}`);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join('; ')}`);
  process.exit(1);
}
