// A TypeScript app against the packed package: every entry point's types resolve, and a wrong
// call does not compile.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { exampleApp, installed } from './helpers.js';

function tsc(dir: string): { ok: boolean; output: string } {
  try {
    execFileSync(path.join(installed(), 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], {
      cwd: dir,
      encoding: 'utf8',
    });
    return { ok: true, output: '' };
  } catch (error) {
    return { ok: false, output: String((error as { stdout?: string }).stdout ?? error) };
  }
}

describe('examples/consumer (TypeScript)', () => {
  it('typechecks against every subpath of the installed package, and catches a wrong call', async () => {
    const dir = await exampleApp('consumer');
    const clean = tsc(dir);
    assert.ok(clean.ok, clean.output);
    await appendFile(path.join(dir, 'index.ts'), '\nawait createIssuer({ rules: {} });\n');
    const wrong = tsc(dir);
    assert.ok(!wrong.ok, 'a call missing required options does not compile');
    assert.match(wrong.output, /signingKeys/);
  });
});
