// The CLI for people and scripts, against a real issuer and storage: rm, shares, revoke; --json
// on every command, errors included, in the API's casing; one way to name objects; ls with a
// prefix and pages; download's own name and --force; messages in units and words.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort, runValet, startValet } from '../helpers/storage.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

function as(system: TestSystem, user: string): string[] {
  return ['--issuer', system.served.url, '--token', `user:${user}`];
}

/** A failure printed for scripts: exactly one JSON line on stderr, nothing on stdout. */
function jsonFailure(result: { code: number | null; stdout: string; stderr: string }) {
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  const parsed = JSON.parse(lines[0] as string) as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(parsed.error).sort(), ['code', 'message']);
  return { status: result.code, ...parsed.error };
}

async function uploadAll(system: TestSystem, dir: string, names: string[]): Promise<void> {
  for (const name of names) {
    await writeFile(path.join(dir, name), `content of ${name}`);
    const up = await runValet(['upload', path.join(dir, name), ...as(system, 'alice')]);
    assert.equal(up.code, 0, up.stderr);
  }
}

describe('valet CLI for scripts', () => {
  it('answers --json on every command, errors as {"error":{"code","message"}} with exit codes unchanged', async (t) => {
    const system = await startSystem(t);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-json-'));
    await writeFile(path.join(dir, 'a.txt'), 'hello');

    const up = await runValet(['upload', path.join(dir, 'a.txt'), ...as(system, 'alice'), '--json']);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(JSON.parse(up.stdout), {
      object: 'users/alice/a.txt',
      key: 'users/alice/a.txt',
      size: 5,
      sha256: sha('hello'),
      etag: `"${sha('hello')}"`,
      content_type: 'text/plain',
    });
    const ls = JSON.parse((await runValet(['ls', ...as(system, 'alice'), '--json'])).stdout);
    assert.deepEqual(Object.keys(ls), ['objects', 'next']);
    assert.deepEqual(Object.keys(ls.objects[0]).sort(), [
      'content_type',
      'created_at',
      'etag',
      'filename',
      'key',
      'object',
      'sha256',
      'size',
      'updated_at',
    ]);
    const shared = JSON.parse(
      (await runValet(['share', 'users/alice/a.txt', ...as(system, 'alice'), '--json'])).stdout,
    );
    assert.deepEqual(Object.keys(shared).sort(), ['expires_at', 'id', 'object', 'url']);
    assert.equal(shared.object, 'users/alice/a.txt');
    const links = JSON.parse((await runValet(['shares', ...as(system, 'alice'), '--json'])).stdout);
    assert.deepEqual(
      links.shares.map((s: { id: string; object: string }) => [s.id, s.object]),
      [[shared.id, 'users/alice/a.txt']],
    );
    assert.deepEqual(Object.keys(links.shares[0]).sort(), ['created_at', 'expires_at', 'id', 'object']);
    const unshared = await runValet(['unshare', ...as(system, 'alice'), '--json', '--', shared.id]);
    assert.deepEqual(JSON.parse(unshared.stdout), { id: shared.id, revoked: true });
    assert.deepEqual(JSON.parse((await runValet(['shares', ...as(system, 'alice'), '--json'])).stdout), {
      shares: [],
    });

    // Errors: a usage mistake (2), a refusal (1), an unreachable issuer (1), each as JSON.
    const usage = jsonFailure(await runValet(['ls', '--issuer', system.served.url, '--json', '--bogus']));
    assert.deepEqual([usage.status, usage.code], [2, 'usage_error']);
    const refused = jsonFailure(await runValet(['rm', 'users/alice/a.txt', ...as(system, 'bob'), '--json']));
    assert.deepEqual([refused.status, refused.code], [1, 'forbidden']);
    assert.match(refused.message, /you may not delete "users\/alice\/a\.txt"/);
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const down = jsonFailure(await runValet(['ls', '--issuer', nobody, '--token', 't', '--json']));
    assert.deepEqual([down.status, down.code], [1, 'network_error']);
    assert.equal(down.message, `could not reach the issuer at ${nobody} (connection refused)`);
    // The same failure for people: one line, the URL and the likely fix.
    const person = await runValet(['ls', '--issuer', nobody, '--token', 't']);
    assert.equal(person.code, 1);
    assert.equal(
      person.stderr,
      `valet ls: could not reach the issuer at ${nobody} (connection refused) (is it running? --issuer or $VALET_ISSUER names the issuer)\n`,
    );

    const removed = await runValet(['rm', 'users/alice/a.txt', ...as(system, 'alice'), '--json']);
    assert.deepEqual(JSON.parse(removed.stdout), { object: 'users/alice/a.txt', deleted: true });
    assert.deepEqual(
      JSON.parse((await runValet(['ls', ...as(system, 'alice'), '--json'])).stdout).objects,
      [],
    );
  });

  it('lists by prefix a page at a time, and names objects by full key or, when unambiguous, by name', async (t) => {
    const system = await startSystem(t);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-names-'));
    await uploadAll(system, dir, ['a.txt', 'b.txt', 'c.txt']);
    await writeFile(path.join(dir, 'x'), 'deep');
    await runValet(['upload', path.join(dir, 'x'), '--name', 'docs/b.txt', ...as(system, 'alice')]);

    const page = await runValet(['ls', 'users/alice/', '--limit', '2', ...as(system, 'alice')]);
    assert.equal(page.code, 0, page.stderr);
    assert.deepEqual(
      page.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).at(-1)),
      ['users/alice/a.txt', 'users/alice/b.txt'],
    );
    assert.match(page.stdout, /^ +16 bytes {2}\d{4}-/);
    assert.equal(page.stderr, 'more: valet ls users/alice/ --after users/alice/b.txt\n');
    const next = JSON.parse(
      (
        await runValet([
          'ls',
          'users/alice/',
          '--after',
          'users/alice/b.txt',
          ...as(system, 'alice'),
          '--json',
        ])
      ).stdout,
    );
    assert.deepEqual(
      next.objects.map((o: { key: string }) => o.key),
      ['users/alice/c.txt', 'users/alice/docs/b.txt'],
    );
    assert.equal(next.next, null);
    const all = JSON.parse(
      (await runValet(['ls', '--all', '--limit', '1', ...as(system, 'alice'), '--json'])).stdout,
    );
    assert.equal(all.objects.length, 4);
    const relative = await runValet(['ls', 'docs/', ...as(system, 'alice')]);
    assert.equal(relative.stdout, '');
    assert.equal(
      relative.stderr,
      'nothing starts with "docs/"; prefixes are of full keys, like users/alice/a.txt\n',
    );

    // A name as upload --name took it works where just one object has it; said on stderr.
    const byName = await runValet(['share', 'a.txt', ...as(system, 'alice'), '--json']);
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(JSON.parse(byName.stdout).object, 'users/alice/a.txt');
    assert.equal(byName.stderr, '(a.txt is users/alice/a.txt)\n');
    // Two objects end with b.txt: refused, with both named.
    const ambiguous = await runValet(['rm', 'b.txt', ...as(system, 'alice')]);
    assert.equal(ambiguous.code, 1);
    assert.match(
      ambiguous.stderr,
      /could be users\/alice\/b\.txt, users\/alice\/docs\/b\.txt: give the full key/,
    );
    const none = await runValet(['rm', 'nothing.txt', ...as(system, 'alice')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /\(objects are named by their full key, as "valet ls" prints it\)\n$/);
    // Bob has no such name: his refusal stands (nothing of alice's is named to him).
    const bob = await runValet(['rm', 'a.txt', ...as(system, 'bob')]);
    assert.equal(bob.code, 1);
    assert.doesNotMatch(bob.stderr, /users\/alice/);
    const rm = await runValet(['rm', 'docs/b.txt', ...as(system, 'alice')]);
    assert.equal(rm.stdout, 'deleted users/alice/docs/b.txt\n');
  });

  it('downloads under the object’s own name, never over a file without --force', async (t) => {
    const system = await startSystem(t);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-down-'));
    const data = randomBytes(3 * 2 ** 20 + 5);
    await writeFile(path.join(dir, 'photo.bin'), data);
    await runValet(['upload', path.join(dir, 'photo.bin'), ...as(system, 'alice')]);
    const here = await mkdtemp(path.join(tmpdir(), 'valet-cli-here-'));
    const first = await runValet(['download', 'users/alice/photo.bin', ...as(system, 'alice')], {
      cwd: here,
    });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, `saved users/alice/photo.bin (3 MiB) as ${path.join(here, 'photo.bin')}\n`);
    assert.equal(sha(await readFile(path.join(here, 'photo.bin'))), sha(data));

    await writeFile(path.join(here, 'photo.bin'), 'mine');
    const again = await runValet(['download', 'photo.bin', ...as(system, 'alice')], { cwd: here });
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      `valet download: ${path.join(here, 'photo.bin')} already exists (add --force to replace it, or --out FILE)\n`,
    );
    assert.equal(await readFile(path.join(here, 'photo.bin'), 'utf8'), 'mine');
    const json = jsonFailure(
      await runValet(['download', 'photo.bin', ...as(system, 'alice'), '--json'], { cwd: here }),
    );
    assert.deepEqual([json.status, json.code], [1, 'file_exists']);

    const forced = await runValet(['download', 'photo.bin', '--force', ...as(system, 'alice'), '--json'], {
      cwd: here,
    });
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(JSON.parse(forced.stdout), {
      object: 'users/alice/photo.bin',
      key: 'users/alice/photo.bin',
      size: data.length,
      sha256: sha(data),
      file: path.join(here, 'photo.bin'),
    });
    assert.equal(sha(await readFile(path.join(here, 'photo.bin'))), sha(data));
  });

  it('revokes keys, subjects and signing keys for admins only', async (t) => {
    const system = await startSystem(t, { issuer: { admins: ['root'] } });
    const minted = await system.issuer.mint('alice', { op: 'get', key: 'users/alice/x' });
    const denied = jsonFailure(
      await runValet(['revoke', `--key=${minted.id}`, ...as(system, 'alice'), '--json']),
    );
    assert.deepEqual([denied.status, denied.code], [1, 'forbidden']);
    const key = await runValet(['revoke', `--key=${minted.id}`, ...as(system, 'root'), '--json']);
    assert.equal(key.code, 0, key.stderr);
    assert.deepEqual(JSON.parse(key.stdout), { revoked: { kind: 'key', value: minted.id } });
    const subject = await runValet([
      'revoke',
      '--subject',
      'bob',
      '--before',
      '2026-01-01T00:00:00Z',
      ...as(system, 'root'),
    ]);
    assert.equal(subject.stdout, 'revoked subject bob\n');
    const signing = await runValet([
      'revoke',
      // The = form: a key id may start with "-".
      `--signing-key=${system.key.jwk.kid as string}`,
      ...as(system, 'root'),
      '--json',
    ]);
    assert.equal(signing.code, 0, signing.stderr);
    assert.deepEqual(JSON.parse(signing.stdout), {
      revoked: { kind: 'signing_key', value: system.key.jwk.kid as string },
    });
    const two = await runValet(['revoke', '--key', 'a', '--subject', 'b', ...as(system, 'root')]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /give exactly one of --key, --subject and --signing-key/);
  });

  it('gives every other command --json too', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-json2-'));
    const keyFile = path.join(dir, 'k.jwk');
    const key = JSON.parse((await runValet(['keygen', '--out', keyFile, '--json'])).stdout);
    assert.deepEqual(Object.keys(key), ['kid', 'file']);
    assert.equal(key.file, keyFile);
    const secret = JSON.parse((await runValet(['secret', '--out', path.join(dir, 's'), '--json'])).stdout);
    assert.deepEqual(secret, { file: path.join(dir, 's') });
    const set = await runValet(['jwks', keyFile, '--json']);
    assert.equal(set.stdout.trimEnd().split('\n').length, 1);
    assert.equal(JSON.parse(set.stdout).keys[0].kid, key.kid);
    const minted = await runValet([
      'mint',
      '--key',
      keyFile,
      '--storage',
      'http://s.test',
      '--op',
      'get',
      '--object',
      'a',
      '--ttl',
      '1m',
      '--json',
    ]);
    assert.match(JSON.parse(minted.stdout).url, /^http:\/\/s\.test\/o\/a\?vk=/);
    // A command's own failure, as JSON too (keygen refuses to overwrite).
    const again = jsonFailure(await runValet(['keygen', '--out', keyFile, '--json']));
    assert.deepEqual([again.status, again.code], [2, 'usage_error']);
    await writeFile(path.join(dir, 'jwks.json'), set.stdout);
    const storage = await startValet(
      [
        'storage',
        '--data',
        path.join(dir, 'data'),
        '--jwks',
        path.join(dir, 'jwks.json'),
        '--port',
        '0',
        '--json',
      ],
      /^(\{.*\})\n/,
    );
    try {
      assert.match(JSON.parse(storage.url).url, /^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await storage.stop();
    }
  });

  it('names storage, not the issuer, when storage is the one that does not answer', async (t) => {
    const system = await startSystem(t);
    await system.storage.stop();
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-'));
    await writeFile(path.join(dir, 'a.txt'), 'a');
    const result = await runValet(['upload', path.join(dir, 'a.txt'), ...as(system, 'alice')]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `valet upload: could not reach storage at ${system.storage.url} (connection refused) (is storage ` +
        "running there? The issuer's keys point at the storage URL it was given: storageUrl, or valet dev's)\n",
    );
  });

  it('names a busy port in words', async (t) => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    t.after(() => busy.close());
    const port = (busy.address() as net.AddressInfo).port;
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-cli-port-'));
    const dev = await runValet(['dev', '--port', String(port), '--data', dir]);
    assert.equal(dev.code, 1);
    assert.match(
      dev.stderr,
      new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use \\(is another valet`),
    );
    assert.equal(dev.stderr.trimEnd().split('\n').length, 1, dev.stderr);
  });
});
