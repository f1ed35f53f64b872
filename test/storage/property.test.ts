// Property test over real HTTP: whatever the object name and whatever the token string, storage
// never answers 5xx and never touches a path outside its data directory.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizeObjectKey } from '../../src/token/object-key.js';
import { request } from '../helpers/http.js';
import { keyFiles, type TestKey, testKey } from '../helpers/keys.js';
import { type RunningStorage, startStorage } from '../helpers/storage.js';

/** Every file under `dir`, relative to it. */
async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full, base)));
    else out.push(path.relative(base, full));
  }
  return out;
}

// Raw path pieces an attacker would try, mixed with arbitrary text, percent-encoded or not.
const hostilePiece = fc.constantFrom(
  '..',
  '.',
  '%2e%2e',
  '%2E%2E',
  '%252e%252e',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%00',
  '%c0%af',
  '%c0%ae',
  '%e2%80%ae',
  '..%2f',
  '%2e%2e%2f',
  '....//',
  '%ef%bc%8e%ef%bc%8e',
  '~',
  '%',
  '%%',
  '%zz',
  '?',
  '#',
  ';',
  '%3f',
  'etc',
  'passwd',
);
const rawPiece = fc.oneof(
  hostilePiece,
  fc.string({ unit: 'grapheme-ascii', maxLength: 8 }).map((s) => s.replace(/[\s#?]/g, '')),
  fc.string({ maxLength: 6 }).map(encodeURIComponent),
);
const rawName = fc
  .array(fc.tuple(rawPiece, fc.constantFrom('/', '', '%2f')), { minLength: 1, maxLength: 8 })
  .map((parts) => parts.map(([piece, sep]) => piece + sep).join(''));
const tokenString = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => p.join('.')),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{0,90}$/),
);

describe('storage under arbitrary input (property)', () => {
  let key: TestKey;
  let storage: RunningStorage;
  let root: string;

  before(async () => {
    key = await testKey();
    storage = await startStorage({ jwksFile: (await keyFiles([key])).jwksFile });
    root = path.dirname(storage.dataDir);
  });
  after(() => storage.stop());

  it('never answers 5xx to any object name and token string', async () => {
    await fc.assert(
      fc.asyncProperty(
        rawName,
        tokenString,
        fc.constantFrom('GET', 'PUT', 'HEAD', 'DELETE'),
        async (name, token, method) => {
          const res = await request(storage.url, {
            method,
            path: `/o/${name}?vk=${encodeURIComponent(token)}`,
            body: method === 'PUT' ? 'x' : undefined,
          });
          assert.ok(res.status >= 400 && res.status < 500, `${method} /o/${name} answered ${res.status}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stores objects with hostile but valid names only inside its data directory', async () => {
    const validName = fc
      .array(
        fc.oneof(
          hostilePiece.map(decodeURIComponent_),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
        ),
        { minLength: 1, maxLength: 6 },
      )
      .map((parts) => parts.join('/'))
      .filter((s) => {
        try {
          return normalizeObjectKey(s) === s;
        } catch {
          return false;
        }
      });
    const stored = new Map<string, string>();
    await fc.assert(
      fc.asyncProperty(validName, async (object) => {
        const token = await key.mint({ op: 'put', object });
        const encoded = object.split('/').map(encodeURIComponent).join('/');
        const res = await request(storage.url, {
          method: 'PUT',
          path: `/o/${encoded}?vk=${token}`,
          body: object,
        });
        assert.ok(
          res.status === 201 || res.status === 200,
          `PUT ${JSON.stringify(object)}: ${res.status} ${res.body}`,
        );
        stored.set(object, object);
      }),
      { numRuns: 150 },
    );
    // Next to the data directory there is nothing but the data directory.
    assert.deepEqual(await readdir(root), [path.basename(storage.dataDir)]);
    // Inside, only the known layout: objects/xx/<sha256>, the ledger, the held versions, the lock,
    // the format marker, the small-object journal, the files of replaced versions kept for reuse.
    for (const file of await walk(storage.dataDir)) {
      assert.match(
        file,
        /^(objects\/[0-9a-f]{2}\/[0-9a-f]{64}|(ledger|held)\.sqlite(-wal|-shm)?|storage\.lock|format\.json|journal\/\d{12}\.log|spare\/[0-9a-z]+-[0-9a-f]{12}-[0-9a-z]+)$/,
        file,
      );
    }
    // And each object reads back under its own name.
    for (const object of [...stored.keys()].slice(0, 30)) {
      const token = await key.mint({ op: 'get', object });
      const encoded = object.split('/').map(encodeURIComponent).join('/');
      const res = await request(storage.url, { path: `/o/${encoded}?vk=${token}` });
      assert.equal(res.body.toString(), object);
    }
  });
});

function decodeURIComponent_(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
