#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node:test through tsx. Node 20's test runner
// does not find .ts files by itself, so the list is built here. Extra arguments (for example
// --test-name-pattern) are passed through; file arguments replace the default list.
//
// --core runs the suites that need nothing but Node and Valet itself: every file that starts an
// outside engine (Ceph, Azurite, PostgreSQL, Chromium, Prometheus, HAProxy, tuspy) is left out.
// CI runs them on each supported Node major other than the one that runs everything.
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

const OUTSIDE_ENGINE =
  /helpers\/(ceph|azurite|postgres|browser|haproxy)\.js|\bprometheus\b|\bchromium\b|\btuspy\b/;

const args = process.argv.slice(2);
const core = args.includes('--core');
const files = args.filter((a) => a.endsWith('.ts'));
const flags = args.filter((a) => !a.endsWith('.ts') && a !== '--core');
const all = files.length > 0 ? files : [...find('src'), ...find('test')].sort();
const list = core ? all.filter((file) => !OUTSIDE_ENGINE.test(readFileSync(file, 'utf8'))) : all;
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
