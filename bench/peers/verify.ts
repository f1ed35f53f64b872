// The key-check workload of `npm run bench:peers`, in this process: verifying valet keys (claims
// included) against a bare node:crypto.verify of the same signatures with a cached KeyObject.
import * as crypto from 'node:crypto';
import { generateSigningJwk, importSigningKey, publicJwk, TrustedKeys } from '../../src/token/keys.js';
import { mintValetKey } from '../../src/token/mint.js';
import { verifyValetKey } from '../../src/token/verify.js';

export interface VerifyRound {
  valet: number;
  bare: number;
}

/** Prepares `count` fresh valet keys; returns one alternating round at a time (ops/s each). */
export async function verifyBench(count: number): Promise<(round: number) => Promise<VerifyRound>> {
  const jwk = await generateSigningJwk();
  const signing = await importSigningKey(jwk);
  const keys = await TrustedKeys.fromJwks({ keys: [publicJwk(jwk)] });
  const tokens = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      mintValetKey(signing, {
        op: 'put',
        object: `users/alice/photos/${i}.jpg`,
        subject: 'alice',
        ttl: 300,
        maxSize: 10 * 2 ** 20,
        contentTypes: ['image/*'],
      }),
    ),
  );
  const cryptoKey = keys.get(jwk.kid);
  if (!cryptoKey) throw new Error('no key');
  const keyObject = crypto.KeyObject.from(cryptoKey);

  const valet = async () => {
    const t0 = performance.now();
    for (const token of tokens) await verifyValetKey(token, { keys });
    return count / ((performance.now() - t0) / 1000);
  };
  const bare = async () => {
    const t0 = performance.now();
    for (const token of tokens) {
      const dot = token.lastIndexOf('.');
      const ok = crypto.verify(
        null,
        Buffer.from(token.slice(0, dot)),
        keyObject,
        Buffer.from(token.slice(dot + 1), 'base64url'),
      );
      if (!ok) throw new Error('bad signature');
    }
    return count / ((performance.now() - t0) / 1000);
  };
  await valet();
  await bare();
  return async (round) => {
    if (round % 2 === 0) {
      const v = await valet();
      return { valet: v, bare: await bare() };
    }
    const b = await bare();
    return { bare: b, valet: await valet() };
  };
}
