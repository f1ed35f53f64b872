// The release script a maintainer runs: a dry run lists exactly what would be published and
// stops short of the upload; a real run refuses a tree that is not a clean, untagged main.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/storage.js';

describe('npm run release', () => {
  it('publishes nothing in a dry run, and lists the build without the tests', () => {
    const run = spawnSync(process.execPath, ['scripts/release.mjs', '--dry-run'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const said = run.stdout + run.stderr;
    assert.match(said, /npm publish --provenance --access public --dry-run/);
    assert.match(said, /dist\/issuer\/index\.js/);
    assert.match(said, /bin\/valet\.js/);
    assert.doesNotMatch(said, /\.test\.ts|scratch\/|test-artifacts/);
    assert.match(said, /release \(dry run\): valet@\d+\.\d+\.\d+ would be published as listed above/);
  });

  it('refuses to publish from a tree with changes, before anything is packed', async () => {
    const clone = path.join(await mkdtemp(path.join(tmpdir(), 'valet-release-')), 'valet');
    execFileSync('git', ['clone', '--quiet', '--branch', 'main', ROOT, clone]);
    await writeFile(path.join(clone, 'README.md'), 'changed\n');
    const run = spawnSync(process.execPath, ['scripts/release.mjs'], { cwd: clone, encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      /^release: not publishing valet@\S+:\n {2}- the working tree has changes: commit or stash them\n$/,
    );
  });
});
