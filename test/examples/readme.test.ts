// The README's "In your app" snippets, run as they are against the packed package: the issuer
// mounted in a Node server at /api/valet, storage next to it, and the client uploading and
// sharing through it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort, ROOT } from '../helpers/storage.js';
import { exampleApp, started } from './helpers.js';

/** The code block (`js` or `sh`) that follows `<!-- readme-test: NAME -->` in the README. */
async function snippet(name: string, language = 'js'): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- readme-test: ${name} -->\\n\`\`\`${language}\\n([\\s\\S]*?)\\n\`\`\``).exec(
    readme,
  );
  assert.ok(match?.[1], `README has a ${language} block marked readme-test: ${name}`);
  return match[1];
}

/** A shell block's commands, one a line (`\\` continuations joined). */
function commands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

describe("the README's integration snippets", () => {
  it('run as they are: the issuer in a Node server, storage beside it, the client through it', async (t) => {
    const dir = await exampleApp('readme', null, { keys: false });
    await writeFile(path.join(dir, 'issuer.mjs'), await snippet('issuer'));
    await writeFile(path.join(dir, 'client.mjs'), await snippet('client'));
    await writeFile(path.join(dir, 'hello.txt'), 'hello, valet');
    // The shell block as written, but for its two ports (tests take free ones), storage first.
    const [appPort, storagePort] = [await freePort(), await freePort()];
    const shell = commands(await snippet('storage', 'sh')).map((line) =>
      line.replaceAll('8080', String(appPort)).replaceAll('9000', String(storagePort)),
    );
    assert.equal(shell.length, 3, 'keygen, secret, storage: one line each');
    for (const line of shell.slice(0, -1)) execFileSync('sh', ['-c', line], { cwd: dir, stdio: 'ignore' });
    await started(t, 'sh', ['-c', `exec ${shell.at(-1)}`], { cwd: dir, ready: /valet storage listening on/ });
    const storageUrl = `http://127.0.0.1:${storagePort}`;
    const env = { PORT: String(appPort), STORAGE_URL: storageUrl };
    const issuer = await started(t, process.execPath, ['issuer.mjs'], { cwd: dir, env });
    // The snippet prints nothing: ready once it answers (and storage's first poll reached it).
    for (let i = 0; ; i++) {
      const health = await fetch(`http://127.0.0.1:${appPort}/api/valet/healthz`).catch(() => undefined);
      if (health?.ok) break;
      assert.ok(i < 200, issuer.output());
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const printed = execFileSync(process.execPath, ['client.mjs'], {
      cwd: dir,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    const [key, sha256, url] = printed.trim().split(' ');
    assert.equal(key, 'users/alice/hello.txt');
    assert.match(sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(await (await fetch(url as string)).text(), 'hello, valet');
    assert.match(issuer.output(), /stored users\/alice\/hello\.txt 12/, 'onUploadComplete ran');
  });
});

describe("the README's install commands", () => {
  it('pack the clone and install the tarball into an app beside it, as written', async () => {
    const [pack, install] = commands(await snippet('install', 'sh'));
    assert.ok(pack && install, 'two lines');
    // The clone's parent is a temporary folder here: `..` in the pack line names it.
    const parent = await mkdtemp(path.join(tmpdir(), 'valet-readme-install-'));
    const version = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).version as string;
    execFileSync('sh', ['-c', pack.replace('--pack-destination ..', `--pack-destination ${parent}`)], {
      cwd: ROOT,
      stdio: 'ignore',
    });
    assert.ok(install.includes(`valet-${version}.tgz`), 'the README names the tarball npm pack makes');
    await mkdir(path.join(parent, 'my-app'));
    await writeFile(path.join(parent, 'my-app', 'package.json'), '{ "name": "my-app", "private": true }\n');
    // `cd ../my-app` from a folder beside it: the clone's place in that parent.
    await mkdir(path.join(parent, 'clone'));
    execFileSync('sh', ['-c', install], { cwd: path.join(parent, 'clone'), stdio: 'ignore' });
    const installed = JSON.parse(
      await readFile(path.join(parent, 'my-app', 'node_modules', 'valet', 'package.json'), 'utf8'),
    );
    assert.equal(installed.version, version);
  });
});
