// The driver contract on Valet's own storage, started in this process with a key it trusts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createStorageServer } from '../storage/server.js';
import { generateSigningJwk, importSigningKey, publicJwk, TrustedKeys } from '../token/keys.js';
import { signClaims } from '../token/mint.js';
import { driverContract } from './contract.js';
import { ValetStorageDriver } from './valet.js';

driverContract('Valet storage', async () => {
  const jwk = await generateSigningJwk();
  const signing = await importSigningKey(jwk);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'valet-driver-'));
  const storage = await createStorageServer({
    dataDir,
    keys: await TrustedKeys.fromJwks({ keys: [publicJwk(jwk)] }),
    logger: pino({ level: 'silent' }),
  });
  const url = await storage.listen(0, '127.0.0.1');
  return {
    driver: new ValetStorageDriver({ url }),
    valetKey: (claims) => signClaims(signing, claims),
    close: async () => {
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
