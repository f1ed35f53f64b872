import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { isIPv4, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { ValetError } from '../../token/errors.js';
import { rawRefusal } from './exchange.js';

/**
 * Connection limits: no client, with or without a key, can take the descriptors storage needs.
 *
 * Every connection holds a descriptor, and two while it uploads or downloads (its temporary or
 * object file). Storage itself needs more: its databases, the journal, the shard directories it
 * keeps open, the `sync` it starts at a checkpoint. When a flood of idle connections took the
 * last one, a checkpoint failed with `EMFILE`. So connections are admitted up to a total that
 * leaves room for all of that, and up to a share of it per client address (an IPv6 client per
 * /64, the block one host usually has); a connection past either is answered `503 unavailable`
 * or `429 too_many_connections` and closed. A connection that never sends a complete request is
 * cut after the header timeout (`headersTimeout`, Node's own check).
 */

/** How many connections storage admits. */
export interface ConnectionLimits {
  /** In all. */
  total: number;
  /** From one client address (an IPv6 /64). Behind a reverse proxy: set it to `total`. */
  perAddress: number;
}

/**
 * Descriptors kept for storage itself, whatever the limit: 256 shard directories it may hold
 * open, its SQLite databases and journal, a checkpoint's `sync`, the key source, the log.
 */
const RESERVED_DESCRIPTORS = 384;

/**
 * The process's limit on open descriptors (the soft `RLIMIT_NOFILE`), read from
 * `/proc/self/limits`; undefined where that file does not exist (not Linux).
 */
export function descriptorLimit(limitsFile = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!match) return undefined;
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/**
 * The default limits for a descriptor limit: two descriptors a connection, after keeping
 * {@link RESERVED_DESCRIPTORS} and a tenth of the limit for storage itself; a quarter of that
 * total per address. Unknown limit: the common 1,024.
 *
 * @example
 * ```ts
 * defaultConnectionLimits(20_000) // { total: 8808, perAddress: 2202 }
 * defaultConnectionLimits(1024)   // { total: 268, perAddress: 67 }
 * ```
 */
export function defaultConnectionLimits(limit: number | undefined): ConnectionLimits {
  const descriptors = limit === undefined ? 1024 : Math.min(limit, 1_048_576);
  const reserve = RESERVED_DESCRIPTORS + Math.ceil(descriptors / 10);
  const total = Math.max(8, Math.floor((descriptors - reserve) / 2));
  return { total, perAddress: Math.max(1, Math.floor(total / 4)) };
}

/** The connection limits from the options, else from the descriptor limit (see connections.ts). */
export function connectionLimits(
  options: { maxConnections?: number; maxConnectionsPerAddress?: number },
  log: Logger,
): ConnectionLimits {
  const fdLimit = descriptorLimit();
  const derived = defaultConnectionLimits(fdLimit);
  const total = options.maxConnections ?? derived.total;
  const limits = {
    total,
    perAddress: Math.min(total, options.maxConnectionsPerAddress ?? Math.max(1, Math.floor(total / 4))),
  };
  if (
    options.maxConnections !== undefined &&
    options.maxConnections > derived.total &&
    fdLimit !== undefined
  ) {
    log.warn(
      { maxConnections: total, descriptorLimit: fdLimit, safe: derived.total },
      `maxConnections ${total} leaves too few of the ${fdLimit} file descriptors for storage itself (at most ${derived.total} is safe): raise the limit (LimitNOFILE, ulimit -n) or lower maxConnections`,
    );
  }
  return limits;
}

/** What a client address counts against: itself (IPv4), or its /64 (IPv6). */
export function addressBucket(address: string | undefined): string {
  if (!address) return '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (isIPv4(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]?.split('::') ?? [];
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

/** Refused connections kept open at once to deliver their answer; past this they are cut. */
const MAX_LINGERING = 64;
/** How long a refused connection is read (and thrown away) before it is closed, ms. */
const REFUSAL_LINGER_MS = 1_000;

/**
 * Admits connections to an `http.Server` within {@link ConnectionLimits}. It takes the place of
 * the server's own `connection` listener (Node's HTTP parser), which it calls for each
 * connection it admits.
 */
export class ConnectionGate {
  readonly #limits: ConnectionLimits;
  readonly #log: Logger;
  readonly #byAddress = new Map<string, number>();
  readonly #warned = new Set<string>();
  #open = 0;
  #lingering = 0;
  /** Connections refused so far (tests, and a warning in the log). */
  refused = 0;

  constructor(server: http.Server, limits: ConnectionLimits, log: Logger) {
    this.#limits = limits;
    this.#log = log;
    const parsers = server.listeners('connection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.#admit(socket)) return;
      for (const parser of parsers) parser.call(server, socket);
    });
  }

  /** Connections open now. */
  get open(): number {
    return this.#open;
  }

  /** The limits this gate holds. */
  get limits(): ConnectionLimits {
    return this.#limits;
  }

  #admit(socket: Socket): boolean {
    const bucket = addressBucket(socket.remoteAddress);
    const fromAddress = this.#byAddress.get(bucket) ?? 0;
    if (this.#open >= this.#limits.total) {
      this.#refuse(
        socket,
        new ValetError(
          'unavailable',
          `storage is serving its limit of ${this.#limits.total} connections; retry shortly`,
        ),
        'total',
      );
      return false;
    }
    if (fromAddress >= this.#limits.perAddress) {
      this.#refuse(
        socket,
        new ValetError(
          'too_many_connections',
          `this address already has ${this.#limits.perAddress} connections open to storage; close some or retry shortly`,
        ),
        bucket,
      );
      return false;
    }
    this.#open++;
    this.#byAddress.set(bucket, fromAddress + 1);
    socket.once('close', () => {
      this.#open--;
      const left = (this.#byAddress.get(bucket) ?? 1) - 1;
      if (left <= 0) this.#byAddress.delete(bucket);
      else this.#byAddress.set(bucket, left);
    });
    return true;
  }

  /**
   * Answers a connection past a limit and closes it. The answer is sent with a FIN, and what the
   * client sends meanwhile is read and thrown away for a moment, so that a reset does not reach
   * the client before the answer. While many refused connections linger, more are cut at once.
   */
  #refuse(socket: Socket, error: ValetError, limit: string): void {
    this.refused++;
    // Once per limit and address: an operator behind a proxy sees why at once, a flood fills no log.
    if (!this.#warned.has(limit)) {
      this.#warned.add(limit);
      this.#log.warn(
        {
          code: error.code,
          limit: limit === 'total' ? this.#limits.total : this.#limits.perAddress,
          ...(limit !== 'total' && { address: limit }),
        },
        limit === 'total'
          ? 'connection refused: storage is at its connection limit (maxConnections)'
          : 'connection refused: one address is at its connection limit (maxConnectionsPerAddress; behind a reverse proxy, raise it to maxConnections)',
      );
    }
    socket.on('error', () => socket.destroy());
    if (this.#lingering >= MAX_LINGERING) {
      socket.destroy();
      return;
    }
    this.#lingering++;
    socket.once('close', () => this.#lingering--);
    socket.end(rawRefusal(error, false, { 'retry-after': '1' }));
    socket.on('data', () => {});
    socket.once('end', () => socket.destroy());
    socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
  }
}
