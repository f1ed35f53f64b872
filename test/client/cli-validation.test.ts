// `valet dev --clamd` checks every upload's true type and scans it with Debian's clamd; `valet
// upload` waits for the verdict, exits 1 with the reason when rejected, and --no-wait returns at
// "stored, pending".
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { EICAR, startClamd } from '../helpers/clamd.js';
import { tinyPng } from '../helpers/files.js';
import { runValet, startValet } from '../helpers/storage.js';

describe('valet upload of a validated upload (valet dev --clamd)', () => {
  it('waits for the verdict, exits 1 with the reason, or returns at once with --no-wait', async (t) => {
    const clamd = await startClamd(t);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-validation-'));
    const dev = await startValet(
      ['dev', '--port', '0', '--data', path.join(dir, 'data'), '--json', '--clamd', clamd.address],
      /^(\{.*\})$/m,
      t,
    );
    const ready = JSON.parse(dev.url) as { issuer: string; users: Record<string, string> };
    const env = {
      VALET_ISSUER: ready.issuer,
      VALET_TOKEN: ready.users.alice as string,
      VALET_STATE_DIR: dir,
    };
    const file = async (name: string, bytes: Buffer) => {
      const at = path.join(dir, name);
      await writeFile(at, bytes);
      return at;
    };

    const virus = await runValet(['upload', await file('eicar.com', EICAR)], { env });
    assert.equal(virus.code, 1);
    assert.match(virus.stderr, /checking before anyone may read it/);
    assert.match(
      virus.stderr,
      /valet upload: the upload was rejected and removed: ClamAV found Valet\.Test\.EICAR\.UNOFFICIAL in it \(virus scan\)\n$/,
    );

    const fake = await runValet(
      ['upload', await file('fake.png', Buffer.from('<html>not a picture</html>'))],
      {
        env,
      },
    );
    assert.equal(fake.code, 1);
    assert.match(fake.stderr, /its content is not image\/png.*\(type check\)/);

    const picture = await runValet(['upload', await file('cat.png', tinyPng()), '--json'], { env });
    assert.equal(picture.code, 0, picture.stderr);
    assert.equal(JSON.parse(picture.stdout).object, 'users/alice/cat.png');
    assert.equal(JSON.parse(picture.stdout).validation, undefined, 'published when it returns');

    await clamd.kill();
    const later = await runValet(
      ['upload', await file('notes.txt', Buffer.from('notes\n')), '--no-wait', '--json'],
      {
        env,
      },
    );
    assert.equal(later.code, 0, later.stderr);
    assert.equal(JSON.parse(later.stdout).validation, 'pending', 'stored, not yet checked');
    assert.match(later.stderr, /being checked before anyone may read it \(not waiting\)/);
    const listed = await runValet(['ls', '--json'], { env });
    const objects = JSON.parse(listed.stdout).objects as Array<{ object: string; validation?: string }>;
    assert.deepEqual(
      objects.map((o) => [o.object, o.validation]),
      [
        ['users/alice/cat.png', undefined],
        ['users/alice/notes.txt', 'pending'],
      ],
    );
    const read = await runValet(['download', 'users/alice/notes.txt', '--out', path.join(dir, 'out.txt')], {
      env,
    });
    assert.equal(read.code, 1);
    assert.match(read.stderr, /still being checked/);
  });
});
