// The package as users install it: carries its build (no install script of its own for npm to
// ask about), needs no bundler or TypeScript loader at run time, and `valet dev` runs from it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { exampleApp, installed, started, valetBin } from './helpers.js';

describe('the installed package', () => {
  it('installs with no build step and runs valet dev with no bundler at run time', async (t) => {
    const pkgDir = path.join(installed(), 'node_modules', 'valet');
    const pkg = JSON.parse(await readFile(path.join(pkgDir, 'package.json'), 'utf8'));
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      assert.equal(pkg.scripts?.[hook], undefined, `no ${hook} script for npm to ask about`);
    }
    assert.deepEqual(Object.keys(pkg.dependencies).sort(), [
      '@tus/server',
      '@tus/utils',
      // The true-type check of validated uploads (issue 28): a maintained detector, pure JS.
      'file-type',
      'jose',
      'pino',
      'prom-client',
      'zod',
    ]);
    // Node 22.13 and later have SQLite built in; better-sqlite3 is only for Node 20, so a failed
    // native build elsewhere does not fail the install.
    assert.deepEqual(Object.keys(pkg.optionalDependencies), ['better-sqlite3']);
    assert.ok(existsSync(path.join(pkgDir, 'dist', 'build.json')), 'the build is in the package');
    assert.ok(existsSync(path.join(pkgDir, 'dist', 'web', 'app.js')), "the page's script is bundled");
    assert.ok(!existsSync(path.join(installed(), 'node_modules', 'esbuild')), 'no bundler installed');
    assert.ok(!existsSync(path.join(installed(), 'node_modules', 'tsx')), 'no TypeScript loader installed');

    const dir = await exampleApp('installed-dev', null);
    const dev = await started(t, valetBin(), ['dev', '--port', '0', '--json', '--data', '.valet'], {
      cwd: dir,
      ready: /"web":/,
    });
    const ready = JSON.parse(
      dev
        .output()
        .split('\n')
        .find((line) => line.startsWith('{')) as string,
    );
    assert.equal((await fetch(ready.web)).status, 200);
    const script = await fetch(`${ready.web}app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.ok((await script.text()).length > 1000);
  });
});
