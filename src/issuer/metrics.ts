import { Counter, Histogram, Registry } from 'prom-client';
import type { RecordStore } from './records/records.js';

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
