import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValetError } from './errors.js';
import { signRequest, verifyRequestSignature } from './signature.js';

const SECRET = 'k'.repeat(43);
const T0 = 1_800_000_000_000;
const request = { method: 'POST', path: '/v1/events', body: '{"id":"evt_1"}' };

async function refused(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (e) => isValetError(e, 'signature_invalid'));
}

describe('request signatures', () => {
  it('verifies a signature made with the same secret, inside the window', async () => {
    const header = await signRequest(SECRET, request, T0);
    assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
    await verifyRequestSignature(SECRET, header, request, { now: T0 + 299_000 });
  });

  it('refuses another body, path, method or secret', async () => {
    const header = await signRequest(SECRET, request, T0);
    await refused(
      verifyRequestSignature(SECRET, header, { ...request, body: '{"id":"evt_2"}' }, { now: T0 }),
    );
    await refused(
      verifyRequestSignature(SECRET, header, { ...request, path: '/v1/revocations' }, { now: T0 }),
    );
    await refused(verifyRequestSignature(SECRET, header, { ...request, method: 'GET' }, { now: T0 }));
    await refused(verifyRequestSignature('j'.repeat(43), header, request, { now: T0 }));
  });

  it('refuses a timestamp outside the replay window, or one moved to another time', async () => {
    const header = await signRequest(SECRET, request, T0);
    await refused(verifyRequestSignature(SECRET, header, request, { now: T0 + 301_000 }));
    await refused(verifyRequestSignature(SECRET, header, request, { now: T0 - 301_000 }));
    const moved = header.replace(/^t=(\d+)/, (_m, t: string) => `t=${Number(t) + 1}`);
    await refused(verifyRequestSignature(SECRET, moved, request, { now: T0 }));
  });

  it('says what it checked, so the other side can see a path or a clock that differs', async () => {
    const header = await signRequest(SECRET, request, T0);
    const message = async (promise: Promise<unknown>) => {
      try {
        await promise;
      } catch (error) {
        return (error as Error).message;
      }
      assert.fail('expected a refusal');
    };
    const path = await message(
      verifyRequestSignature(SECRET, header, { ...request, path: '/api/v1/events' }, { now: T0 }),
    );
    assert.match(path, /POST \/api\/v1\/events/);
    assert.ok(
      !path.includes(SECRET) && !path.includes(header.split('v1=')[1] as string),
      'no secret, no signature',
    );
    const skew = await message(verifyRequestSignature(SECRET, header, request, { now: T0 + 600_000 }));
    assert.match(skew, /-600 s .*clock skew/);
  });

  it('refuses a missing or malformed header', async () => {
    for (const header of [undefined, null, '', 'v1=abc', 't=1,v1=zz', `t=1,v1=${'0'.repeat(63)}`]) {
      await refused(verifyRequestSignature(SECRET, header, request, { now: T0 }));
    }
  });

  it('refuses a secret shorter than 32 bytes', async () => {
    await assert.rejects(signRequest('short', request, T0), (e) => isValetError(e, 'invalid_options'));
  });
});
