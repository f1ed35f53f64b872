// The published surface: `valet/token` and `valet/storage` resolve through the exports map to
// built JavaScript with type declarations beside it, and load without tsx.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from './helpers/storage.js';

const run = promisify(execFile);

describe('package', () => {
  it('exposes valet/token and valet/storage as built ESM with types', async () => {
    // `npm install` builds dist/ (the prepare script); build again so this checks the current sources.
    await run(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT },
    );
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.name, 'valet');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.bin.valet, 'bin/valet.js');
    for (const entry of ['./token', './storage']) {
      await access(path.join(ROOT, pkg.exports[entry].types));
      await access(path.join(ROOT, pkg.exports[entry].default));
    }
    const script = `
      const token = await import('valet/token');
      const storage = await import('valet/storage');
      const key = await token.importSigningKey(await token.generateSigningJwk());
      const t = await token.mintValetKey(key, { op: 'get', object: 'a', subject: 's', ttl: 60 });
      const trusted = await token.TrustedKeys.fromJwks({ keys: [token.publicJwk(key.jwk)] });
      const claims = await token.verifyValetKey(t, { keys: trusted });
      console.log(JSON.stringify({ op: claims.op, create: typeof storage.createStorageServer }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    assert.deepEqual(JSON.parse(stdout), { op: 'get', create: 'function' });
  });
});
