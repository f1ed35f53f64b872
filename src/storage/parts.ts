import path from 'node:path';
import pino, { type Logger } from 'pino';
import type { CorsPolicy } from '../wire/cors.js';
import { UsedKeyLedger } from './access/ledger.js';
import { RevocationFeed } from './access/revocations.js';
import { HeldVersions } from './disk/held-versions.js';
import { FileStore } from './disk/store.js';
import { EventOutbox } from './events/events.js';
import { storageCors } from './http/cors.js';
import type { StorageServerOptions } from './options.js';
import { describeErrno } from './readiness.js';

/** The parts of a storage server, opened before it serves. */
export interface Parts {
  cors: CorsPolicy;
  log: Logger;
  store: FileStore;
  ledger: UsedKeyLedger;
  held: HeldVersions;
  outbox: EventOutbox | undefined;
  feed: RevocationFeed | undefined;
}

/**
 * Opens the data directory, the single-use ledger, the held versions and the event outbox
 * (recovering its events).
 */
export async function openParts(options: StorageServerOptions): Promise<Parts> {
  const cors = storageCors(options.corsOrigins ?? []);
  const log = options.logger ?? pino({ base: { service: 'valet-storage' } }, pino.destination(2));
  const store = await FileStore.open(options.dataDir, {
    onSweep: (file) => log.info({ file }, 'removed a temporary file left by an earlier run'),
    onReplay: (objects) => log.warn({ objects }, 'replayed the journal left by a crash'),
    onCheckpointError: (error, retryMs) =>
      log.error(
        { err: error, retryMs },
        `the journal cannot checkpoint: ${describeErrno(error)}; small uploads are refused until it can (retried)`,
      ),
    ...(options.journal === false && { journal: false }),
  });
  const now = options.now ?? Date.now;
  let ledger: UsedKeyLedger | undefined;
  let held: HeldVersions | undefined;
  let outbox: EventOutbox | undefined;
  // The list is kept in the data directory: a restart while the issuer is away still knows it.
  const feed =
    options.revocations &&
    new RevocationFeed({ file: path.join(store.dir, 'revocations.json'), ...options.revocations }, log, now);
  try {
    await feed?.restore();
    ledger = UsedKeyLedger.open(store.dir);
    held = HeldVersions.open(store.dir);
    if (options.events) {
      outbox = EventOutbox.open(store.dir, options.events, log);
      await outbox.recover(async ({ type, object, key_id }) => {
        const found = await store.open(object);
        const keyId = found?.meta.keyId;
        await found?.close();
        return type === 'object.created' ? keyId === key_id : keyId !== key_id;
      });
      outbox.start();
    }
  } catch (error) {
    feed?.stop();
    await outbox?.close();
    ledger?.close();
    held?.close();
    await store.close();
    throw error;
  }
  return { cors, log, store, ledger, held, outbox, feed };
}
