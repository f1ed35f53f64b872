#!/usr/bin/env node
// What the test command needs beyond Node and the clone's npm packages: a C++ toolchain for
// better-sqlite3, Debian's chromium for the browser tests, Ceph (radosgw, monitor, OSD) for the S3
// tests, curl for the Ceph fixture, openssl for the Azure HTTPS fixture's certificate,
// PostgreSQL for the record-store and replica tests, and prlimit, chattr and strace for storage's
// descriptor-limit, failing-checkpoint and durable-format tests, python3-tuspy (a tus client), and
// clamav-daemon (clamd) for the validation tests, and golang-google-cloud-dev for Google's V4
// signing conformance vectors (the GCS driver's signer test reads them where Debian puts them). Run by `npm test` first, and by `.ci/run`
// before `npm ci`.
// All present: silent. Missing and running as root with apt-get: installs them. Otherwise: one
// line naming what is missing and the command that installs it, exit 1.
// `--no-install` never installs (what a non-root user gets).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Each command the tests run, and the Debian package that has it. */
const NEEDED = {
  python3: 'python3',
  make: 'make',
  'g++': 'g++',
  curl: 'curl',
  openssl: 'openssl',
  chromium: 'chromium',
  radosgw: 'radosgw',
  'ceph-mon': 'ceph-mon',
  'ceph-osd': 'ceph-osd',
  // Storage's limit tests: a low descriptor limit, an immutable journal folder, system calls.
  prlimit: 'util-linux',
  chattr: 'e2fsprogs',
  strace: 'strace',
  // Operations: a real Prometheus scrapes the metrics, HAProxy balances issuer replicas.
  prometheus: 'prometheus',
  promtool: 'prometheus',
  haproxy: 'haproxy',
  // Validation: ClamAV's daemon scans uploads (with a signature file the tests write).
  clamd: 'clamav-daemon',
};

/**
 * Debian installs PostgreSQL's server off the PATH, under /usr/lib/postgresql/VERSION/bin
 * (VALET_POSTGRES_ROOT replaces that folder, for this script's own test).
 */
function hasPostgres() {
  const root = process.env.VALET_POSTGRES_ROOT ?? '/usr/lib/postgresql';
  return existsSync(root) && readdirSync(root).some((v) => existsSync(path.join(root, v, 'bin', 'postgres')));
}

function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

/** Debian's tus client for Python (python3-tuspy), run by the tus conformance test with /usr/bin/python3. */
function hasTuspy() {
  const dir = process.env.VALET_TUSPY_DIR ?? '/usr/lib/python3/dist-packages/tusclient';
  return existsSync(dir);
}

/**
 * Google's V4 signing conformance vectors and the dummy service account they are made with
 * (googleapis/conformance-tests storage/v1), as Debian's golang-google-cloud-dev ships them.
 */
function hasGcsVectors() {
  const dir =
    process.env.VALET_GCS_VECTORS_DIR ??
    '/usr/share/gocode/src/cloud.google.com/go/storage/internal/test/conformance';
  return existsSync(path.join(dir, 'v4_signatures.json')) && existsSync(path.join(dir, 'service-account'));
}

const missing = () => [
  ...new Set(
    Object.entries(NEEDED)
      .filter(([c]) => !onPath(c))
      .map(([, p]) => p),
  ),
  ...(hasPostgres() ? [] : ['postgresql']),
  ...(hasTuspy() ? [] : ['python3-tuspy']),
  ...(hasGcsVectors() ? [] : ['golang-google-cloud-dev']),
];
const wanted = missing();
if (wanted.length === 0) process.exit(0);

const install = ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...wanted];
const canInstall = !process.argv.includes('--no-install') && process.getuid?.() === 0 && onPath('apt-get');
if (!canInstall) {
  process.stderr.write(
    `npm test needs Debian packages that are missing (${wanted.join(', ')}); install them with: sudo ${install.join(' ')}\n`,
  );
  process.exit(1);
}
process.stderr.write(`installing Debian packages the tests need: ${wanted.join(' ')}\n`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
for (const command of [['apt-get', 'update', '-qq'], install]) {
  const result = spawnSync(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'inherit'], env });
  if (result.status !== 0) {
    process.stderr.write(`${command.join(' ')} failed (exit ${result.status})\n`);
    process.exit(1);
  }
}
const still = missing();
if (still.length > 0) {
  process.stderr.write(`still missing after apt-get: ${still.join(', ')}\n`);
  process.exit(1);
}
