import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient, fileResumeStore, type ValetClient } from '../../src/client/client.js';
import type { ResumeStore } from '../../src/client/resume.js';
import type { UploadResult } from '../../src/client/types.js';
import type { UploadProtocol } from '../../src/wire/keys.js';
import { refusal } from './system.js';

/** What {@link interruptedAndResumed} leaves for the test's own checks. */
export interface Resumed {
  /** The upload's id. */
  id: string;
  result: UploadResult;
  data: Buffer;
  /** A fresh client of alice's, remembering uploads where the first did. */
  client: () => ValetClient;
  resumeStore: ResumeStore;
  /** The key the resume store remembers the upload under. */
  remembered: string;
}

/**
 * A 20 MiB upload to the issuer at `url` in parts of 8 MiB (8 + 8 + 4), interrupted during the
 * second part and resumed by a new client from where the store holds it: the upload is
 * remembered with its `protocol`, nobody else may sign its parts, completing it early is refused
 * and it stays resumable, the resumed upload sends only what is missing, and the object downloads
 * whole. `before(id)` runs while it is interrupted (a test's own checks of the store).
 */
export async function interruptedAndResumed(
  url: string,
  options: { name: string; type?: string; protocol: UploadProtocol; before?: (id: string) => Promise<void> },
): Promise<Resumed> {
  const dir = await mkdtemp(path.join(tmpdir(), 'valet-resume-'));
  const resumeStore = fileResumeStore(path.join(dir, 'uploads.json'));
  const client = () =>
    createClient({
      issuer: url,
      getToken: () => 'user:alice',
      retryDelay: 50,
      resumableThreshold: 0,
      resumeStore,
    });
  const data = randomBytes(20 * 2 ** 20 + 123);
  const blob = () => new Blob([data], options.type !== undefined ? { type: options.type } : {});
  const abort = new AbortController();
  const first = client().upload(blob(), {
    name: options.name,
    fingerprint: 'video-v1',
    signal: abort.signal,
    onProgress: (p) => {
      if (p.loaded > 10 * 2 ** 20) abort.abort();
    },
  });
  assert.equal(await refusal(first), 'aborted');
  const remembered = JSON.stringify([url, null, options.name, data.length, 'video-v1']);
  const saved = await resumeStore.get(remembered);
  assert.equal(saved?.protocol, options.protocol);
  const id = saved?.id as string;
  await options.before?.(id);
  // Only alice may sign its parts or complete it.
  const asBob = await fetch(`${url}/v1/uploads/${id}/parts`, {
    method: 'POST',
    headers: { authorization: 'Bearer user:bob', 'content-type': 'application/json' },
    body: JSON.stringify({ part: 1 }),
  });
  assert.equal(asBob.status, 403);
  // Completing with a part missing is refused, and the upload stays resumable.
  const early = await fetch(`${url}/v1/uploads/${id}/complete`, {
    method: 'POST',
    headers: { authorization: 'Bearer user:alice' },
  });
  assert.equal(early.status, 412);
  // Resumed: only the missing parts are sent.
  let resumedAt = -1;
  const result = await client().upload(blob(), {
    name: options.name,
    fingerprint: 'video-v1',
    onResume: ({ offset }) => {
      resumedAt = offset;
    },
  });
  assert.equal(resumedAt, 8 * 2 ** 20, 'the first part was kept');
  assert.ok(result.bytes.toStorage < data.length, 'the kept part was not sent again');
  assert.equal(result.size, data.length);
  assert.equal(result.upload, id);
  const back = Buffer.from(await (await (await client().download(result.key)).blob()).arrayBuffer());
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  assert.equal(sha(back), sha(data));
  return { id, result, data, client, resumeStore, remembered };
}
