import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Exchange } from './http/exchange.js';

/**
 * Storage's metrics, in Prometheus' text format (`prom-client`, a registry of its own per server).
 * Labels are routes, methods, statuses and stable codes only: never a key, a subject or an object
 * name (they would leak what the keys guard, and grow without bound).
 */

/** The route of a request path, as a metrics label. */
export function routeOf(path: string): 'object' | 'uploads' | 'health' | 'metrics' | 'other' {
  if (path.startsWith('/o/')) return 'object';
  if (path === '/uploads' || path.startsWith('/uploads/')) return 'uploads';
  if (path === '/healthz' || path === '/readyz') return 'health';
  if (path === '/metrics') return 'metrics';
  return 'other';
}

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);
/** Seconds: from a cached small GET to a large upload. */
const DURATIONS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** What the gauges read when scraped. */
export interface StorageGauges {
  /** Seconds since the issuer last confirmed the revocation list; undefined without a feed. */
  revocationAge(): number | undefined;
  /** Events waiting for delivery to the issuer; undefined without a webhook. */
  eventsWaiting(): number | undefined;
  /** Connections open now. */
  connections(): number;
}

/** Storage's metrics (see the module comment). */
export class StorageMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: 'valet_storage_requests_total',
    help: 'Requests answered, by route, method and status (none: no answer was sent)',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'valet_storage_request_duration_seconds',
    help: 'Time from a request to the end of its answer, by route and method',
    labelNames: ['route', 'method'] as const,
    buckets: DURATIONS,
    registers: [this.registry],
  });
  readonly #bytesIn = new Counter({
    name: 'valet_storage_received_bytes_total',
    help: 'Body bytes received (uploads), by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly #bytesOut = new Counter({
    name: 'valet_storage_sent_bytes_total',
    help: 'Body bytes sent (downloads), by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly #uploading = new Gauge({
    name: 'valet_storage_uploads_in_flight',
    help: 'Requests receiving a body now (PUT, tus PATCH and creation-with-upload)',
    registers: [this.registry],
  });
  readonly #refusals = new Counter({
    name: 'valet_storage_refusals_total',
    help: 'Requests refused, by stable error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly #flush = new Histogram({
    name: 'valet_storage_journal_flush_seconds',
    help: 'Time of one journal flush (write and fdatasync of a batch of small uploads)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly #batch = new Histogram({
    name: 'valet_storage_journal_batch_records',
    help: 'Records made durable by one journal flush (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });

  constructor(gauges: StorageGauges) {
    new Gauge({
      name: 'valet_storage_revocation_list_age_seconds',
      help: 'Seconds since the issuer last confirmed the revocation list (+Inf: never)',
      registers: [this.registry],
      collect() {
        const age = gauges.revocationAge();
        if (age !== undefined) this.set(age);
      },
    });
    new Gauge({
      name: 'valet_storage_events_waiting',
      help: 'Completion events waiting for delivery to the issuer',
      registers: [this.registry],
      collect() {
        const waiting = gauges.eventsWaiting();
        if (waiting !== undefined) this.set(waiting);
      },
    });
    new Gauge({
      name: 'valet_storage_connections_open',
      help: 'Connections open now',
      registers: [this.registry],
      collect() {
        this.set(gauges.connections());
      },
    });
  }

  /** A request starts; returns what to call when its answer has ended. */
  started(ex: Exchange, path: string): () => void {
    const route = routeOf(path);
    const method = METHODS.has(ex.req.method ?? '') ? (ex.req.method as string) : 'other';
    const body = method === 'PUT' || method === 'PATCH' || method === 'POST';
    if (body) this.#uploading.inc();
    return () => {
      if (body) this.#uploading.dec();
      const status = ex.res.headersSent ? String(ex.res.statusCode) : 'none';
      this.#requests.inc({ route, method, status });
      this.#duration.observe({ route, method }, (performance.now() - ex.started) / 1000);
      if (ex.bytesIn > 0) this.#bytesIn.inc({ route }, ex.bytesIn);
      if (ex.bytesOut > 0) this.#bytesOut.inc({ route }, ex.bytesOut);
      if (ex.code) this.#refusals.inc({ code: ex.code });
    };
  }

  /** A journal flush made `records` durable in `seconds`. */
  flushed(seconds: number, records: number): void {
    this.#flush.observe(seconds);
    this.#batch.observe(records);
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
