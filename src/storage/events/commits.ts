import type { ValetClaims } from '../../token/claims.js';
import { ValetError } from '../../token/errors.js';
import type { Receipt, StorageEvent } from '../../wire/events.js';
import type { HeldVersions } from '../disk/held-versions.js';
import type { ObjectMeta } from '../disk/object-file.js';
import type { FileStore } from '../disk/store.js';
import type { Upload } from '../disk/upload-file.js';
import type { EventOutbox } from './events.js';

/**
 * Making a change visible, with its event for the issuer: an upload's version is sealed and
 * committed, a deletion removes the current version, and the event (when a webhook is set) is
 * recorded before the change is visible and published exactly when it is. A version made with a
 * key that says `hold` is held before it is visible, until the issuer publishes it.
 */
export class Commits {
  readonly #store: FileStore;
  readonly #outbox: EventOutbox | undefined;
  readonly #now: () => number;
  readonly held: HeldVersions;

  constructor(store: FileStore, outbox: EventOutbox | undefined, held: HeldVersions, now: () => number) {
    this.#store = store;
    this.#outbox = outbox;
    this.held = held;
    this.#now = now;
  }

  /**
   * Seals a received file as the version `meta` and commits it. `consume` (a single-use key) runs
   * after the file is durable and before it can be seen; `hold`: the version is held (unreadable
   * but to the issuer's validators) from before it can be seen until the issuer publishes it.
   * Returns whether the object is new, and (with a webhook) the receipt of its event for the
   * client to hand to the issuer.
   */
  async commitVersion(
    upload: Upload,
    meta: ObjectMeta,
    options: { noOverwrite: boolean; hold?: boolean; consume?: () => void },
  ): Promise<{ created: boolean; receipt?: Receipt }> {
    const ticket = await this.#store.seal(upload, meta, options.noOverwrite);
    let event: { seq: number; body: string } | undefined;
    try {
      options.consume?.();
      if (options.hold) this.held.hold(meta.key, meta.keyId);
      event = this.#prepare({
        type: 'object.created',
        ...eventFields(meta, { jti: meta.keyId, sub: meta.subject }),
      });
    } catch (error) {
      // Refused after the journal took it: a replay must not make it the object.
      if (ticket) await this.#store.abandon(meta.key, meta.keyId, ticket);
      throw error;
    }
    let created: boolean;
    try {
      created = await this.#store.commit(upload, meta.key, {
        noOverwrite: options.noOverwrite,
        keyId: meta.keyId,
        ...(ticket && { ticket }),
      });
    } catch (error) {
      // A commit can fail after its rename (the directory fsync): then the version is visible.
      const landed = (await this.metaOf(meta.key))?.keyId === meta.keyId;
      if (event !== undefined) this.#settle(event, landed);
      if (!landed && options.hold) this.held.release(meta.key, meta.keyId);
      throw error;
    }
    this.#settle(event, true);
    // The versions this one replaced are gone: their holds with them.
    this.held.releaseAllBut(meta.key, meta.keyId);
    if (!event || !this.#outbox) return { created };
    return { created, receipt: await this.#outbox.receipt(event.body, this.#now()) };
  }

  /**
   * Deletes the current version of the key's object (`consume` first, as for any single-use key).
   * Returns (with a webhook) the receipt of its event for the client to hand to the issuer.
   */
  async deleteVersion(claims: ValetClaims, consume: () => void): Promise<Receipt | undefined> {
    const meta = await this.metaOf(claims.obj);
    if (!meta) throw new ValetError('not_found', 'no such object');
    consume();
    const event = this.#prepare({
      type: 'object.deleted',
      ...eventFields(meta, claims),
      version_key_id: meta.keyId,
    });
    let deleted = false;
    try {
      deleted = await this.#store.delete(claims.obj);
    } finally {
      this.#settle(event, deleted);
    }
    if (!deleted) throw new ValetError('not_found', 'no such object');
    this.held.releaseAllBut(claims.obj);
    if (!event || !this.#outbox) return undefined;
    return this.#outbox.receipt(event.body, this.#now());
  }

  /**
   * Publishes the held version the key names (the issuer's validators passed it): readable from
   * now on. Idempotent; `precondition_failed` if the object's current version is another.
   */
  async publish(claims: ValetClaims): Promise<void> {
    const meta = await this.metaOf(claims.obj);
    if (!meta) throw new ValetError('not_found', 'no such object');
    if (meta.keyId !== claims.version) {
      throw new ValetError('precondition_failed', 'the object was replaced or removed since that upload');
    }
    this.held.release(claims.obj, meta.keyId);
  }

  /** The metadata of an object's current version, if any. */
  async metaOf(key: string): Promise<ObjectMeta | undefined> {
    const found = await this.#store.open(key);
    await found?.close();
    return found?.meta;
  }

  /** Records an event before its change becomes visible (when a webhook is configured). */
  #prepare(event: Omit<StorageEvent, 'id' | 'time'>): { seq: number; body: string } | undefined {
    return this.#outbox?.prepare(event, this.#now());
  }

  /** After a commit attempt: deliver the event if the change is visible, else forget it. */
  #settle(event: { seq: number } | undefined, landed: boolean): void {
    if (event === undefined || !this.#outbox) return;
    if (landed) this.#outbox.publish(event.seq);
    else this.#outbox.cancel(event.seq);
  }
}

/** What a storage event says about a version and the key that made the change. */
function eventFields(meta: ObjectMeta, claims: Pick<ValetClaims, 'jti' | 'sub'>) {
  return {
    object: meta.key,
    key_id: claims.jti,
    subject: claims.sub,
    size: meta.size,
    content_type: meta.contentType,
    sha256: meta.sha256,
    etag: meta.etag,
  };
}
