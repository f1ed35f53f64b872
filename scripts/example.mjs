#!/usr/bin/env node
// Runs one of examples/ in one command, from this clone: `npm run example -- hono` (or express,
// next). Valet is not on the npm registry yet, so `npm install` in an example would fail (E404):
// this packs the package as it would be published (`npm pack`), copies the example to
// .examples/NAME, installs its dependencies with that tarball as `valet`, makes its signing key
// and storage secret, and starts Valet storage and the app together until Ctrl-C.
//
//   npm run example -- hono [--port 3000] [--storage-port 9000]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string', default: '3000' }, 'storage-port': { type: 'string', default: '9000' } },
});
const runnable = ['hono', 'express', 'next'];
const name = positionals[0];
if (!runnable.includes(name ?? '')) {
  process.stderr.write(
    `usage: npm run example -- ${runnable.join('|')} [--port 3000] [--storage-port 9000]\n`,
  );
  process.exit(2);
}
const say = (line) => process.stderr.write(`== ${line}\n`);
const work = path.join(root, '.examples');
const dir = path.join(work, name);
const port = values.port;
const storagePort = values['storage-port'];

say('npm pack (Valet is not on the npm registry yet: the example gets the package packed from this clone)');
mkdirSync(work, { recursive: true });
for (const old of readdirSync(work)) if (old.endsWith('.tgz')) rmSync(path.join(work, old));
const packed = JSON.parse(
  execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
);
const tarball = path.join(work, packed[0].filename);

say(`examples/${name} -> ${path.relative(root, dir)}`);
cpSync(path.join(root, 'examples', name), dir, {
  recursive: true,
  filter: (source) => !source.includes(`${path.sep}node_modules`) && !source.includes(`${path.sep}.next`),
});
const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
pkg.dependencies.valet = `file:${tarball}`;
pkg.allowScripts = { ...pkg.allowScripts, 'better-sqlite3': true };
writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

say('npm install');
const install = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' });
if (install.status !== 0) process.exit(install.status ?? 1);
// The installed package's own command and Next's, run directly (not through npx) so that a
// signal reaches them.
const valetBin = path.join(dir, 'node_modules', 'valet', 'bin', 'valet.js');
const nextBin = path.join(dir, 'node_modules', 'next', 'dist', 'bin', 'next');
const valet = (...args) =>
  execFileSync(process.execPath, [valetBin, ...args], { cwd: dir, stdio: 'inherit' });
if (!existsSync(path.join(dir, 'signing.jwk'))) valet('keygen', '--out', 'signing.jwk');
if (!existsSync(path.join(dir, 'storage.secret'))) valet('secret', '--out', 'storage.secret');
if (name === 'next') {
  say('next build');
  execFileSync(process.execPath, [nextBin, 'build'], { cwd: dir, stdio: 'inherit' });
}

const app = `http://127.0.0.1:${port}`;
const env = { ...process.env, PORT: port, STORAGE_URL: `http://127.0.0.1:${storagePort}` };
const storageArgs = [
  'storage',
  '--data',
  'objects',
  '--issuer',
  `${app}/api/valet`,
  '--secret-file',
  'storage.secret',
  '--log-level',
  'warn',
];
const children = [
  spawn(process.execPath, [valetBin, ...storageArgs, '--port', storagePort, '--cors-origin', app], {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  }),
  spawn(
    process.execPath,
    name === 'next' ? [nextBin, 'start', '-p', port, '-H', '127.0.0.1'] : ['server.mjs'],
    { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'], env },
  ),
];
say(
  `the ${name} example runs at ${app} (Valet at ${app}/api/valet, storage at ${env.STORAGE_URL}); Ctrl-C stops it`,
);
let stopping = false;
const stop = (code) => {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  process.exitCode = code;
};
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
for (const child of children) child.on('exit', (code) => stop(code ?? 0));
