import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RecordStore } from './records/records.js';
import type { ValidationQueue } from './records/validations.js';

/**
 * The issuer's metrics, in Prometheus' text format (`prom-client`, a registry of its own per
 * issuer). Labels are route patterns (`/v1/keys/:id/complete`), methods, statuses, stable codes,
 * rule names and record-store operations: never a subject, a key or an object name.
 */

/** Seconds: from a remembered bearer to a slow record store. */
const DURATIONS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The issuer's metrics (see the module comment). */
export class IssuerMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'valet_issuer_requests_total',
    help: 'Requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'valet_issuer_request_duration_seconds',
    help: 'Time to answer a request, by route pattern and method',
    labelNames: ['route', 'method'] as const,
    buckets: DURATIONS,
    registers: [this.registry],
  });
  readonly #refusals = new Counter({
    name: 'valet_issuer_refusals_total',
    help: 'Requests refused, by stable error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly #minted = new Counter({
    name: 'valet_issuer_keys_minted_total',
    help: 'Valet keys minted (renewals and parts included), by rule and operation',
    labelNames: ['rule', 'op'] as const,
    registers: [this.registry],
  });
  readonly #records = new Histogram({
    name: 'valet_issuer_record_store_seconds',
    help: 'Time of one record-store call, by operation',
    labelNames: ['operation'] as const,
    buckets: DURATIONS,
    registers: [this.registry],
  });

  readonly #validations = new Counter({
    name: 'valet_issuer_validations_total',
    help: 'Validation runs of uploads, by outcome (published, rejected, retry: no verdict yet)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly #validationTime = new Histogram({
    name: 'valet_issuer_validation_seconds',
    help: 'Time of one validation run (reading the object and every validator), by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  /** A validation run ended (`ms`: how long it took). */
  validated(outcome: 'published' | 'rejected' | 'retry', ms: number): void {
    this.#validations.inc({ outcome });
    this.#validationTime.observe({ outcome }, ms / 1000);
  }

  /** The validation queue's backlog, read from the record store at each scrape. */
  watchValidations(queue: ValidationQueue, now: () => number): void {
    let backlog: ReturnType<ValidationQueue['backlog']> | undefined;
    // One read of the queue per scrape, shared by the gauges.
    const read = () => {
      backlog ??= queue.backlog().finally(() => setTimeout(() => (backlog = undefined), 100));
      return backlog;
    };
    new Gauge({
      name: 'valet_issuer_validations_pending',
      help: 'Uploads waiting for their verdict (queued or running, on any replica)',
      registers: [this.registry],
      async collect() {
        this.set((await read()).pending);
      },
    });
    new Gauge({
      name: 'valet_issuer_validations_retrying',
      help: 'Uploads waiting for their verdict whose validation ran at least once without one',
      registers: [this.registry],
      async collect() {
        this.set((await read()).retrying);
      },
    });
    new Gauge({
      name: 'valet_issuer_validation_oldest_seconds',
      help: 'How long the oldest upload still waiting for its verdict has waited (0: none waits)',
      registers: [this.registry],
      async collect() {
        const oldest = (await read()).oldestCreatedAt;
        this.set(oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000));
      },
    });
  }

  /** A request was answered. `route` is its pattern (`unmatched` when no route matched). */
  answered(route: string, method: string, status: number, seconds: number, code?: string): void {
    this.#requests.inc({ route, method, status: String(status) });
    this.#duration.observe({ route, method }, seconds);
    if (code) this.#refusals.inc({ code });
  }

  /** A key was minted under `rule`. */
  minted(rule: string, op: string): void {
    this.#minted.inc({ rule, op });
  }

  /** The record store, with each call timed (its methods only; everything else passes through). */
  timed(records: RecordStore): RecordStore {
    const histogram = this.#records;
    return new Proxy(records, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return (...args: unknown[]) => {
          const started = performance.now();
          const result = value.apply(target, args);
          if (!(result instanceof Promise)) return result;
          return result.finally(() =>
            histogram.observe({ operation: property }, (performance.now() - started) / 1000),
          );
        };
      },
    });
  }

  /** The exposition, in Prometheus' text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
