// End-to-end: small objects go through the journal (group commit). The server is killed
// (SIGKILL) at a random moment while many small PUTs and DELETEs run, three times in a row on the
// same data directory. After each restart every object is the last version its client saw
// acknowledged, or the one in flight at the crash, whole; nothing deleted comes back; no temporary
// file remains. (A kill keeps the kernel's page cache: torn files after a power cut are covered by
// src/storage/disk/journal.test.ts, which tears them by hand.)
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { request } from '../helpers/http.js';
import { keyFiles, testKey } from '../helpers/keys.js';
import { type RunningStorage, startStorage, tmpFiles } from '../helpers/storage.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const KEYS = 48;
const WORKERS = 16;
const SEED = Number(process.env.VALET_CRASH_SEED ?? Date.now() % 100_000);

/** A tiny seeded generator, so a failing run can be repeated with VALET_CRASH_SEED. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe(`crash safety of small objects under load (seed ${SEED})`, () => {
  it('keeps every acknowledged small object whole across SIGKILLs at random moments', async (t) => {
    const key = await testKey();
    const { jwksFile } = await keyFiles([key]);
    const rand = random(SEED);
    // What each object must be: the last acknowledged state, or the state of the request in flight.
    const acked = new Map<string, string>(); // object -> sha256 or 'absent'
    const inFlight = new Map<string, string>();
    let storage: RunningStorage = await startStorage({ jwksFile }, t);

    for (let crash = 0; crash < 3; crash++) {
      let alive = true;
      let acknowledged = 0;
      const worker = async (w: number) => {
        while (alive) {
          const object = `small/${w + WORKERS * Math.floor(rand() * (KEYS / WORKERS))}`;
          const remove = rand() < 0.15 && acked.has(object) && acked.get(object) !== 'absent';
          const body = randomBytes(1 + Math.floor(rand() * 8192));
          const state = remove ? 'absent' : sha256(body);
          inFlight.set(object, state);
          try {
            const token = await key.mint({ op: remove ? 'delete' : 'put', object });
            const res = await request(storage.url, {
              method: remove ? 'DELETE' : 'PUT',
              path: `/o/${object}?vk=${token}`,
              ...(remove ? {} : { body }),
            });
            if (res.status >= 200 && res.status < 300) {
              acked.set(object, state);
              acknowledged++;
            } else if (alive) {
              assert.fail(`${object}: ${res.status} ${res.body}`);
            }
          } catch (error) {
            if (alive) throw error;
          }
          // A request the crash cut stays in flight: after the restart it may or may not have landed.
          if (alive) inFlight.delete(object);
        }
      };
      const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
      await new Promise((resolve) => setTimeout(resolve, 300 + rand() * 1500));
      alive = false;
      await storage.stop('SIGKILL');
      await Promise.allSettled(workers);
      assert.ok(acknowledged > 50, `only ${acknowledged} requests were acknowledged before the crash`);

      storage = await startStorage({ jwksFile, dataDir: storage.dataDir }, t);
      assert.deepEqual(await tmpFiles(storage.dataDir), [], 'start-up left no temporary file');
      const journal = await readdir(path.join(storage.dataDir, 'journal'));
      assert.ok(journal.length <= 1, `the replayed journal files are gone: ${journal}`);
      for (let i = 0; i < KEYS; i++) {
        const object = `small/${i}`;
        const token = await key.mint({ op: 'get', object });
        const res = await request(storage.url, { path: `/o/${object}?vk=${token}` });
        const found =
          res.status === 404 ? 'absent' : res.status === 200 ? sha256(res.body) : `status ${res.status}`;
        const allowed = [acked.get(object) ?? 'absent', inFlight.get(object)].filter(Boolean);
        assert.ok(
          allowed.includes(found),
          `crash ${crash + 1}, ${object}: found ${found}, allowed ${allowed}`,
        );
        acked.set(object, found);
        inFlight.delete(object);
      }
    }
    await storage.stop();
  });

  it('commits every upload with its own fsyncs with --no-journal: no journal directory', async (t) => {
    const key = await testKey();
    const { jwksFile } = await keyFiles([key]);
    const storage = await startStorage({ jwksFile, args: ['--no-journal'] }, t);
    const token = await key.mint({ op: 'put', object: 'small/x' });
    const res = await request(storage.url, {
      method: 'PUT',
      path: `/o/small/x?vk=${token}`,
      body: Buffer.from('x'),
    });
    assert.equal(res.status, 201);
    assert.equal((await readdir(storage.dataDir)).includes('journal'), false);
    await storage.stop();
  });
});
