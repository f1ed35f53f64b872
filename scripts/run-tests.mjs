#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test through tsx. Node 20's test runner
// does not find .ts files by itself, so the list is built here. Extra arguments (for example
// --test-name-pattern) are passed through; file arguments replace the default list.
//
// --core runs the suites that need nothing but Node and Valet itself: every file that starts an
// outside engine (Ceph, Azurite, PostgreSQL, Chromium, Prometheus, HAProxy, tuspy) is left out.
// CI runs them on each supported Node major other than the one that runs everything.
//
// --area=NAME runs one area's tests: the unit tests next to its code and its end-to-end tests in
// test/<area>/ (see AREAS). Every test file belongs to exactly one area. --list prints the files
// it would run, and runs nothing.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    // The examples' tests need the packed package installed: npm run test:examples. The browser
    // tests of valet/uppy, valet/react and the demo page's design are a step of their own too
    // (npm run test:ui): Chromium and Ceph make them slow. So are the operations tests (npm run
    // test:ops): an app outage of two minutes, a rolling restart behind HAProxy.
    if (entry.isDirectory() && full === path.join('test', 'examples')) continue;
    if (entry.isDirectory() && full === path.join('test', 'ui')) continue;
    if (entry.isDirectory() && full === path.join('test', 'ops')) continue;
    if (entry.isDirectory()) out.push(...find(full));
    else if (entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

/** Each area's folders: unit tests in src/, end-to-end tests in test/. */
const AREAS = {
  storage: ['src/storage', 'test/storage'],
  issuer: ['src/issuer', 'test/issuer'],
  engines: ['src/drivers', 'test/engines'],
  client: ['src/client', 'src/cli', 'src/uppy', 'src/react', 'src/web', 'test/client'],
  system: ['test/system'],
  basics: ['src/token', 'src/wire', 'src/sqlite', 'test/project'],
};

function areaOf(file) {
  const found = Object.entries(AREAS).filter(([, dirs]) =>
    dirs.some((dir) => file.startsWith(dir + path.sep)),
  );
  return found.length === 1 ? found[0][0] : undefined;
}

const OUTSIDE_ENGINE =
  /helpers\/(ceph|azurite|postgres|browser|haproxy)\.js|\bprometheus\b|\bchromium\b|\btuspy\b/;

const args = process.argv.slice(2);
const core = args.includes('--core');
const areaArg = args.find((a) => a.startsWith('--area='));
const files = args.filter((a) => a.endsWith('.ts'));
const listOnly = args.includes('--list');
const flags = args.filter((a) => !a.endsWith('.ts') && !['--core', '--list', areaArg].includes(a));
const every = [...find('src'), ...find('test')].sort();
const homeless = every.filter((file) => areaOf(file) === undefined);
if (homeless.length > 0) {
  console.error(
    `run-tests: these test files belong to no area (add their folder to AREAS):\n  ${homeless.join('\n  ')}`,
  );
  process.exit(1);
}
const area = areaArg?.slice('--area='.length);
if (area !== undefined && !(area in AREAS)) {
  console.error(`run-tests: no area "${area}"; the areas are ${Object.keys(AREAS).join(', ')}`);
  process.exit(1);
}
const all = files.length > 0 ? files : area ? every.filter((file) => areaOf(file) === area) : every;
const list = core ? all.filter((file) => !OUTSIDE_ENGINE.test(readFileSync(file, 'utf8'))) : all;
if (listOnly) {
  console.log(list.join('\n'));
  process.exit(0);
}
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    ...(flags.some((f) => f.startsWith('--test-reporter')) ? [] : ['--test-reporter=spec']),
    '--test-concurrency=2',
    // Per test file (each runs as one test): the Ceph and browser files take a minute or two,
    // more on a loaded machine; the operations tests set their own, longer, timeouts.
    '--test-timeout=300000',
    ...flags,
    ...list,
  ],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
