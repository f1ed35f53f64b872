import { randomUUID } from 'node:crypto';
import type { StorageDriver } from '../drivers/types.js';
import { ValetStorageDriver } from '../drivers/valet.js';
import { importSigningKey, type JwkSet, type SigningKey } from '../token/keys.js';
import type { RevocationList } from '../token/revocations.js';
import type { CallerInfo, Issuer, KeyRequest, MintedKey, ShareLink } from './api.js';
import type { Identity } from './auth/identity.js';
import { IssuerCore } from './core.js';
import { mintKey } from './domain/keys.js';
import { revocationFeed, revokeKey, revokeSigningKey, revokeSubject } from './domain/revocations.js';
import { share, unshare } from './domain/shares.js';
import { checkUnreported, type UnreportedCursor } from './domain/unreported.js';
import { abortStaleUploads, SESSION_LIFETIME, type StaleCursor } from './domain/uploads.js';
import { ValidationWorker } from './domain/validations.js';
import { requestHandler } from './http/handler.js';
import { identifier } from './http/identify.js';
import { fromRequest, HANDLE, type Incoming, type Outgoing, toResponse } from './http/messages.js';
import { issuerRoutes } from './http/routes/index.js';
import { IssuerMetrics } from './metrics.js';
import { checkEnforcement, type IssuerOptions, validateIssuerOptions } from './options.js';
import { PostgresRecordStore } from './records/postgres-records.js';
import type { ObjectRecord, RecordStore } from './records/records.js';
import { SqliteRecordStore } from './records/sqlite-records.js';
import { SigningKeys } from './signer.js';

/** Whether a `database` option names PostgreSQL (`postgres://` or `postgresql://`) rather than a file. */
export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

/** A `database` option's store: PostgreSQL for a `postgres://` URL, else a SQLite file. */
function openDatabase(database: string): Promise<RecordStore> | RecordStore {
  return isPostgresUrl(database) ? PostgresRecordStore.open(database) : SqliteRecordStore.open(database);
}

export type { CallerInfo, CompletedUpload, Issuer, KeyRequest, MintedKey, ShareLink } from './api.js';
export type { IssuerOptions } from './options.js';

/**
 * Creates the issuer: authenticates callers, applies rules and quotas, mints valet keys, records
 * every grant, completion and revocation, and publishes its public keys and revocation list.
 * The routes are in `http/routes/` (see docs/issuer.md for the table).
 *
 * @example
 * ```ts
 * const issuer = await createIssuer({
 *   signingKeys: [jwk], storageUrl: 'http://127.0.0.1:9000', storageSecret,
 *   oidc: { issuer: 'https://id.example.com', audience: 'my-app' },
 *   rules: { upload: { op: 'put', prefix: 'users/{subject}/', maxSize: 10 * 2 ** 20 } },
 * })
 * http.createServer(toNodeListener(issuer)).listen(8080)
 * ```
 */
export async function createIssuer(options: IssuerOptions): Promise<Issuer> {
  validateIssuerOptions(options);
  const driver: StorageDriver =
    options.driver ?? new ValetStorageDriver({ url: options.storageUrl as string });
  checkEnforcement(driver, options.rules);
  const keys: SigningKey[] = [];
  for (const jwk of options.signingKeys) keys.push(await importSigningKey(jwk));
  const ownsRecords = options.records === undefined;
  const metrics = new IssuerMetrics();
  const records = metrics.timed(options.records ?? (await openDatabase(options.database as string)));
  const { revocations } = await records.activeRevocations((options.now ?? Date.now)());
  const revoked = revocations.filter((r) => r.kind === 'signing_key').map((r) => r.value);
  const signing = new SigningKeys(keys, options.signingKeys, revoked);
  const core = new IssuerCore(options, records, driver, signing, metrics);
  return new ValetIssuer(core, ownsRecords);
}

/** The issuer's facade: the HTTP handler, and the same operations as functions. */
class ValetIssuer implements Issuer {
  readonly records: RecordStore;
  readonly #core: IssuerCore;
  readonly #ownsRecords: boolean;
  readonly #handle: (incoming: Incoming) => Promise<Outgoing>;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #unreported: UnreportedCursor;
  #checking: Promise<number> | undefined;
  #validation: ValidationWorker | undefined;

  constructor(core: IssuerCore, ownsRecords: boolean) {
    this.#core = core;
    this.records = core.records;
    this.#ownsRecords = ownsRecords;
    const identify = identifier(core.options, core.now);
    core.identityReady = identify.ready;
    this.#handle = requestHandler(core, issuerRoutes(), identify);
    // Uploads that never complete: their pending rows lapse (reservations lapse with their keys).
    this.#every('expire-pending', 60_000, () => core.records.expirePending(core.now()));
    // Uploads whose clients never reported them (stores that send no events): checked at the
    // store once their keys expire, every minute, from the keys of the last upload lifetime on.
    this.#unreported = { expiresAt: core.now() - core.uploadLifetime * 1000, id: '' };
    this.#stale = { issuedAt: core.now() - core.uploadLifetime * 1000 - SESSION_LIFETIME, id: '' };
    if (core.driver.completion === 'client')
      this.#every('check-unreported', 60_000, () => this.checkUnreportedUploads());
    // Multipart uploads nobody can continue any more (older than the upload lifetime) are aborted,
    // now and every ten minutes, so the store does not keep their parts.
    // A signing key revoked through another issuer sharing these records (a replica) stops
    // signing here too, within two seconds: every issuer looks, no lease.
    const refresh = setInterval(() => void this.#refreshSigningKeys().catch(() => {}), 2_000);
    refresh.unref();
    this.#timers.push(refresh);
    // Uploads whose rule validates them: this issuer's share of the validation queue.
    if (core.validators.size > 0 && core.records.validations) {
      this.#validation = new ValidationWorker(core, core.records.validations, this.#holder);
      core.validationQueued = () => this.#validation?.kick();
      core.metrics.watchValidations(core.records.validations, core.now);
      this.#validation.start();
    }
    if (core.multipart()) {
      const abort = this.#leased('abort-stale', 600_000, () => this.abortStaleUploads());
      void abort().catch(() => {});
      this.#every('abort-stale', 600_000, () => this.abortStaleUploads());
    }
  }

  /** This issuer's name as a lease holder: replicas sharing a store each have their own. */
  readonly #holder = randomUUID();

  /**
   * `task`, run only while this issuer holds its lease in the record store (see
   * `RecordStore.claimLease`), so that replicas sharing a store run it once, not each; the lease
   * outlives the period by half, so another replica takes over when the holder is gone.
   */
  #leased(name: string, ms: number, task: () => Promise<unknown>): () => Promise<unknown> {
    const records = this.#core.records;
    return async () => {
      if (records.claimLease && !(await records.claimLease(name, this.#holder, this.#core.now(), ms * 1.5)))
        return;
      await task();
    };
  }

  async #refreshSigningKeys(): Promise<void> {
    const { revocations } = await this.#core.records.activeRevocations(this.#core.now());
    for (const r of revocations) if (r.kind === 'signing_key') this.#core.signing.revoke(r.value);
  }

  #every(name: string, ms: number, task: () => Promise<unknown>): void {
    const run = this.#leased(name, ms, task);
    const timer = setInterval(() => void run().catch(() => {}), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  /**
   * Bound to this issuer, so it works detached: `export const POST = issuer.fetch` (Next.js),
   * `app.mount('/valet', issuer.fetch)` (Hono), `const { fetch } = issuer`.
   */
  readonly fetch = (request: Request, info: { clientAddress?: string } = {}): Promise<Response> =>
    this.#handle(fromRequest(request, info.clientAddress)).then(toResponse);

  /** The handler behind `fetch`, also used directly by the Node adapter (no undici objects). */
  readonly [HANDLE] = (incoming: Incoming): Promise<Outgoing> => this.#handle(incoming);

  mint(who: Identity | string, request: KeyRequest, caller: CallerInfo = {}): Promise<MintedKey> {
    return mintKey(this.#core, toIdentity(who), request, caller);
  }

  list(who: Identity | string): Promise<ObjectRecord[]> {
    return this.records.listObjects(toIdentity(who).subject);
  }

  share(who: Identity | string, key: string, ttlSeconds: number, baseUrl?: string): Promise<ShareLink> {
    return share(this.#core, toIdentity(who), key, ttlSeconds, baseUrl);
  }

  unshare(who: Identity | string, id: string): Promise<void> {
    return unshare(this.#core, toIdentity(who), id);
  }

  abortStaleUploads(): Promise<number> {
    // One pass at a time, each after the one before: a caller's pass starts after any running
    // pass (the one at start-up, say) has finished, so none is still half-way when it returns.
    const pass = this.#aborting.then(() => abortStaleUploads(this.#core, this.#stale));
    this.#aborting = pass.catch(() => 0);
    return pass;
  }

  #aborting: Promise<number> = Promise.resolve(0);
  /** Where the issuer's pass over its own records of uploads stopped (stores that list none). */
  readonly #stale: StaleCursor;

  async metrics(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.#core.metrics.contentType, text: await this.#core.metrics.text() };
  }

  checkUnreportedUploads(): Promise<number> {
    // One check at a time: they share the cursor.
    this.#checking ??= checkUnreported(this.#core, this.#unreported).finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  revokeKey(id: string): Promise<void> {
    return revokeKey(this.#core, id);
  }

  revokeSubject(subject: string, before?: number): Promise<void> {
    return revokeSubject(this.#core, subject, before);
  }

  revokeSigningKey(kid: string): Promise<void> {
    return revokeSigningKey(this.#core, kid);
  }

  async revocationList(): Promise<RevocationList> {
    return (await revocationFeed(this.#core)).list;
  }

  jwks(): JwkSet {
    return this.#core.signing.jwks();
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await this.#validation?.stop();
    await this.#checking?.catch(() => {});
    if (this.#ownsRecords) await this.records.close();
  }
}

function toIdentity(who: Identity | string): Identity {
  return typeof who === 'string' ? { subject: who, claims: {} } : who;
}
