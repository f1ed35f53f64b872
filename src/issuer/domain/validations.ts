import type { DriverContext } from '../../drivers/types.js';
import type { IssuerCore } from '../core.js';
import type { ObjectRecord } from '../records/records.js';
import type { ValidationQueue, ValidationRecord } from '../records/validations.js';
import type { OpenObject, ValidatedObject, Validator, ValidatorVerdict } from '../validation/validators.js';

/** How long a claim holds a validation without being renewed, ms (renewed every third of it). */
export const VALIDATION_LEASE_MS = 30_000;
/** How often an idle issuer looks for validations other replicas queued, ms. */
const POLL_MS = 1_000;
/** The first retry's wait, doubled each time up to {@link MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 5 * 60_000;

/** The version being validated is no longer the object's (replaced or deleted meanwhile). */
class Replaced extends Error {}

/**
 * Runs the validation queue on this issuer: claims due validations (at most `concurrency` at
 * once), runs each rule's validators on the object read from the store through the driver, and
 * records the verdict. An upload it passes is published (Valet storage is told to serve it) and
 * the app's `onUploadComplete` hears it; one it rejects is removed from the store, with its
 * reason kept for the uploader. A run without a verdict (a scanner down, a timeout, the store
 * unreachable) is retried with backoff: never published unchecked. Replicas share the queue
 * through the record store; a claim is a lease, so an issuer that dies mid-run leaves its
 * validations to the next claim once the lease lapses.
 */
export class ValidationWorker {
  readonly #core: IssuerCore;
  readonly #queue: ValidationQueue;
  readonly #holder: string;
  readonly #concurrency: number;
  readonly #runs = new Set<Promise<void>>();
  readonly #aborts = new Set<AbortController>();
  #timer: NodeJS.Timeout | undefined;
  #claiming = false;
  #again = false;
  #stopped = false;

  constructor(core: IssuerCore, queue: ValidationQueue, holder: string) {
    this.#core = core;
    this.#queue = queue;
    this.#holder = holder;
    this.#concurrency = core.options.validation?.concurrency ?? 2;
  }

  /** Starts looking for work: now, every second, and whenever this issuer queues some. */
  start(): void {
    this.#timer = setInterval(() => this.kick(), POLL_MS);
    this.#timer.unref();
    this.kick();
  }

  /** Claims what is due, up to the concurrency (an upload just recorded here runs at once). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    this.#claiming = true;
    void this.#fill()
      .catch((error) => this.#core.log?.warn({ err: error }, 'could not claim validations; trying again'))
      .finally(() => {
        this.#claiming = false;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Stops claiming; runs under way give their validations back (due now) and end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const abort of this.#aborts) abort.abort();
    await Promise.allSettled([...this.#runs]);
  }

  async #fill(): Promise<void> {
    while (!this.#stopped && this.#runs.size < this.#concurrency) {
      const v = await this.#queue.claim(this.#holder, this.#core.now(), VALIDATION_LEASE_MS);
      if (!v) return;
      const run = this.#run(v).finally(() => {
        this.#runs.delete(run);
        this.kick();
      });
      this.#runs.add(run);
    }
  }

  async #run(v: ValidationRecord): Promise<void> {
    const abort = new AbortController();
    this.#aborts.add(abort);
    const started = performance.now();
    const renew = setInterval(() => {
      void this.#queue
        .renew(v.id, this.#holder, this.#core.now() + VALIDATION_LEASE_MS)
        .then((held) => held || abort.abort())
        .catch(() => {});
    }, VALIDATION_LEASE_MS / 3);
    const context = this.#core.driverContext(v.owner, '(validation)');
    try {
      if (v.status === 'rejecting') await this.#remove(v, v.reason ?? 'rejected', context);
      else await this.#validate(v, context, abort.signal);
    } catch (error) {
      if (error instanceof Replaced) {
        await this.#queue.finish(v.id, 'replaced', this.#core.now());
        this.#decided(v.id);
      } else {
        const stopped = abort.signal.aborted;
        const message = stopped
          ? 'the run was stopped (the issuer stopped, or lost its lease)'
          : describe(error);
        const wait = stopped ? 0 : Math.min(FIRST_BACKOFF_MS * 2 ** v.attempts, MAX_BACKOFF_MS);
        this.#core.log?.warn(
          { object: v.object, upload: v.id, attempt: v.attempts + 1, retryMs: wait, problem: message },
          'validation did not finish; it stays pending and runs again',
        );
        this.#core.metrics.validated('retry', performance.now() - started);
        await this.#queue.retry(v.id, this.#holder, this.#core.now() + wait, message).catch(() => {});
      }
    } finally {
      clearInterval(renew);
      this.#aborts.delete(abort);
    }
  }

  async #validate(v: ValidationRecord, context: DriverContext, signal: AbortSignal): Promise<void> {
    const started = performance.now();
    const record = await this.#core.records.getObject(v.object);
    if (!record || record.etag !== v.etag) throw new Replaced();
    const object = await this.#described(v, record);
    const open: OpenObject = async () => {
      if (signal.aborted) throw new Error('stopped');
      const read = await this.#core.driver.read?.(v.object, context, { etag: v.etag });
      if (!read) throw new Replaced();
      signal.addEventListener('abort', () => read.body.destroy(new Error('stopped')), { once: true });
      return read.body;
    };
    for (const validator of this.#core.validators.get(v.rule) ?? []) {
      const verdict = await this.#check(validator, object, open, signal);
      if ('reject' in verdict) {
        const reason = `${verdict.reject} (${validator.name === 'clamav' ? 'virus scan' : validator.name === 'type' ? 'type check' : "the app's check"})`;
        this.#core.log?.info(
          { object: v.object, upload: v.id, validator: validator.name, reason },
          'upload rejected',
        );
        await this.#queue.reject(v.id, this.#holder, reason, this.#core.now());
        await this.#remove(v, reason, context);
        this.#core.metrics.validated('rejected', performance.now() - started);
        return;
      }
    }
    if (
      this.#core.driver.publish &&
      (await this.#core.driver.publish(v.object, v.id, context)) === 'replaced'
    ) {
      throw new Replaced();
    }
    await this.#completed(v, { status: 'published' });
    await this.#queue.finish(v.id, 'published', this.#core.now());
    this.#decided(v.id);
    this.#core.metrics.validated('published', performance.now() - started);
  }

  /** One validator, bounded in time: past the issuer's `validation.timeout` the run fails (retried). */
  async #check(
    validator: Validator,
    object: ValidatedObject,
    open: OpenObject,
    signal: AbortSignal,
  ): Promise<ValidatorVerdict> {
    const seconds = this.#core.options.validation?.timeout ?? 600;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${validator.name} took longer than ${seconds} s`)),
        seconds * 1000,
      );
      signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true });
    });
    // Settled after the race at times (an abort once the validator answered): never unhandled.
    limit.catch(() => {});
    try {
      return await Promise.race([validator.check(object, open), limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Removes a rejected version from the store (only if it is still the object's), then finishes. */
  async #remove(v: ValidationRecord, reason: string, context: DriverContext): Promise<void> {
    const head = await this.#core.driver.head(v.object, context);
    if (head?.etag === v.etag) await this.#core.driver.delete(v.object, context);
    await this.#completed(v, { status: 'rejected', reason });
    await this.#queue.finish(v.id, 'rejected', this.#core.now());
    this.#decided(v.id);
  }

  /** Wakes the requests waiting here for this verdict (others learn it at their next look). */
  #decided(id: string): void {
    for (const wake of this.#core.verdictWaiters.get(id) ?? []) wake();
  }

  async #described(v: ValidationRecord, record: ObjectRecord): Promise<ValidatedObject> {
    const grant = await this.#core.records.getGrant(v.id);
    const allowed = grant?.constraints.content_types;
    return {
      object: v.object,
      owner: v.owner,
      size: record.size ?? 0,
      contentType: record.contentType ?? 'application/octet-stream',
      etag: v.etag,
      sha256: record.sha256 || null,
      rule: v.rule,
      ...(allowed && { allowedTypes: allowed }),
      ...record.description,
    };
  }

  /** The app's `onUploadComplete`, with the verdict (at least once: a crash before `finish` runs it again). */
  async #completed(v: ValidationRecord, verdict: { status: 'published' | 'rejected'; reason?: string }) {
    const hook = this.#core.options.onUploadComplete;
    if (!hook) return;
    const event = (await this.#core.records.listEvents(v.object)).find(
      (e) => e.keyId === v.id && e.etag === v.etag && e.type === 'object.created',
    );
    if (!event) return;
    const grant = await this.#core.records.getGrant(v.id);
    await hook({
      eventId: event.id,
      object: v.object,
      owner: v.owner,
      size: event.size,
      contentType: event.contentType,
      sha256: event.sha256,
      etag: event.etag,
      ...grant?.description,
      grant,
      ...verdict,
    });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
