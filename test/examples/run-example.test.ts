// `npm run example -- hono`: one command from a clone runs an example with the package packed
// from it (Valet is not on the npm registry yet), storage beside it, until Ctrl-C.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { freePort, ROOT } from '../helpers/storage.js';
import { roundTrip } from './helpers.js';

describe('npm run example', () => {
  it('packs, installs and runs the Hono example with its storage, and stops both on Ctrl-C', async (t) => {
    const [port, storagePort] = [await freePort(), await freePort()];
    const run = spawn(
      process.execPath,
      ['scripts/example.mjs', 'hono', '--port', String(port), '--storage-port', String(storagePort)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    // Its storage and app are children of its own process group: all of it goes when the test ends.
    t.after(() => {
      try {
        process.kill(-(run.pid as number), 'SIGKILL');
      } catch {}
    });
    let said = '';
    run.stdout.setEncoding('utf8').on('data', (d: string) => {
      said += d;
    });
    run.stderr.setEncoding('utf8').on('data', (d: string) => {
      said += d;
    });
    const exited = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 300_000;
    while (!/the hono example runs at/.test(said) || !/listening on/.test(said)) {
      if (Date.now() > deadline) assert.fail(`the example did not start:\n${said}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.match(said, /Valet is not on the npm registry yet/);
    await roundTrip(`http://127.0.0.1:${port}/api/valet`, 'dana');
    process.kill(run.pid as number, 'SIGINT');
    assert.equal(await exited, 0);
  });
});
