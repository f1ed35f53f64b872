import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HEADER_SIZE } from './object-file.js';

/**
 * SHA-256 of an upload's bytes, computed by a worker thread from the file they were written to,
 * as they land: the main thread never hashes a large body (at ~1 GB/s a core, hashing in series
 * with the socket reads cost a 1 GiB PUT 40 % of its CPU on the main thread, issue 29). The worker
 * reads each landed range back with pread(2) on the same descriptor (threads share the process's
 * file table; the range is in the page cache, just written) and hashes it, so a second core does
 * the hashing while the main thread reads the socket.
 *
 * Ordering is the contract: a worker handles its messages one at a time, reading synchronously,
 * so once it has answered a `sync` or `drop` no read of an earlier `read` is in flight, and the
 * caller may close the descriptor (whose number the kernel hands out again at once).
 */

/** The worker's code: plain JavaScript, so it runs the same from src/ (tsx) and dist/. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
const HEADER = ${HEADER_SIZE};
const jobs = new Map();
let buffer = Buffer.allocUnsafe(1024 * 1024);
parentPort.on('message', (m) => {
  const job = jobs.get(m.id);
  try {
    if (m.t === 'open') { jobs.set(m.id, { hash: createHash('sha256'), at: 0 }); return; }
    if (!job) throw new Error('no such hash job');
    if (m.t === 'read') {
      while (job.at < m.to) {
        const n = readSync(m.fd, buffer, 0, Math.min(buffer.length, m.to - job.at), HEADER + job.at);
        if (n === 0) throw Object.assign(new Error('the file is shorter than its landed bytes'), { code: 'ESHORT' });
        job.hash.update(buffer.subarray(0, n));
        job.at += n;
      }
    } else if (m.t === 'sync') {
      parentPort.postMessage({ id: m.id, seq: m.seq, at: job.at });
    } else if (m.t === 'digest') {
      jobs.delete(m.id);
      parentPort.postMessage({ id: m.id, seq: m.seq, at: job.at, hex: job.hash.digest('hex') });
    } else if (m.t === 'drop') {
      jobs.delete(m.id);
      parentPort.postMessage({ id: m.id, seq: m.seq });
    }
  } catch (error) {
    if (job) job.failed = { message: error.message, code: error.code };
    jobs.delete(m.id);
    parentPort.postMessage({ id: m.id, failed: { message: error.message, code: error.code } });
  }
});
`;

interface Reply {
  id: number;
  seq?: number;
  at?: number;
  hex?: string;
  failed?: { message: string; code?: string };
}

type Waiter = { resolve: (reply: Reply) => void; reject: (error: Error) => void };

/** One worker thread and the jobs given to it. */
class HashThread {
  readonly worker: Worker;
  readonly waiters = new Map<string, Waiter>();
  readonly failed = new Map<number, Error>();
  dead = false;

  constructor(onExit: (thread: HashThread) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, name: 'valet-hash' });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => this.#answer(reply));
    const die = (error: Error) => {
      if (this.dead) return;
      this.dead = true;
      for (const waiter of this.waiters.values()) waiter.reject(error);
      this.waiters.clear();
      onExit(this);
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`the hashing thread exited (code ${code})`)));
  }

  #answer(reply: Reply): void {
    this.#settle(reply);
    if (this.waiters.size === 0) this.worker.unref();
  }

  #settle(reply: Reply): void {
    if (reply.failed) {
      const error = Object.assign(new Error(reply.failed.message), { code: reply.failed.code });
      this.failed.set(reply.id, error);
      // Every waiter of this job learns of it: its later messages find no job.
      for (const [key, waiter] of this.waiters) {
        if (key.startsWith(`${reply.id}:`)) {
          this.waiters.delete(key);
          waiter.reject(error);
        }
      }
      return;
    }
    const key = `${reply.id}:${reply.seq}`;
    const waiter = this.waiters.get(key);
    this.waiters.delete(key);
    waiter?.resolve(reply);
  }

  /** Waits for an answer: the thread keeps the process alive only while someone waits for one. */
  wait(key: string, waiter: Waiter): void {
    if (this.waiters.size === 0) this.worker.ref();
    this.waiters.set(key, waiter);
  }
}

let nextId = 1;

/** The hashing threads, shared by every upload of the process. */
export class HashPool {
  readonly size: number;
  #threads: (HashThread | undefined)[] = [];
  #turn = 0;

  /** `size` threads (default: one, or two on a machine with more than four cores). */
  constructor(size = availableParallelism() > 4 ? 2 : 1) {
    this.size = size;
  }

  /** A new job on the next thread in turn. */
  job(): HashJob {
    const index = this.#turn++ % this.size;
    let thread = this.#threads[index];
    if (!thread || thread.dead) {
      thread = new HashThread((t) => {
        if (this.#threads[index] === t) this.#threads[index] = undefined;
      });
      this.#threads[index] = thread;
    }
    return new HashJob(thread);
  }
}

/** The SHA-256 of one file's bytes after its header, fed by {@link landed} as they are written. */
export class HashJob {
  readonly #thread: HashThread;
  readonly #id = nextId++;
  #seq = 0;
  #sent = 0;
  #open = true;

  constructor(thread: HashThread) {
    this.#thread = thread;
    thread.worker.postMessage({ t: 'open', id: this.#id });
  }

  /** Bytes told to the worker so far. */
  get landedBytes(): number {
    return this.#sent;
  }

  /** The first `upTo` bytes after the header are written to `fd`: the worker hashes the new ones. */
  landed(fd: number, upTo: number): void {
    if (!this.#open || upTo <= this.#sent) return;
    this.#sent = upTo;
    this.#thread.worker.postMessage({ t: 'read', id: this.#id, fd, to: upTo });
  }

  #ask(t: 'sync' | 'digest' | 'drop'): Promise<Reply> {
    const failed = this.#thread.failed.get(this.#id);
    if (failed) return Promise.reject(failed);
    if (this.#thread.dead) return Promise.reject(new Error('the hashing thread is gone'));
    const seq = ++this.#seq;
    return new Promise<Reply>((resolve, reject) => {
      this.#thread.wait(`${this.#id}:${seq}`, { resolve, reject });
      this.#thread.worker.postMessage({ t, id: this.#id, seq });
    });
  }

  /** Resolves once no read of `fd` is in flight (the caller may then close it); rejects on a read error. */
  async sync(): Promise<void> {
    await this.#ask('sync');
  }

  /** The hex digest of every landed byte; ends the job. */
  async digest(): Promise<string> {
    try {
      return (await this.#ask('digest')).hex as string;
    } finally {
      this.#close();
    }
  }

  /** Ends the job without a digest; resolves once no read is in flight. Never rejects. */
  async drop(): Promise<void> {
    if (!this.#open) return;
    try {
      await this.#ask('drop');
    } catch {
      // A failed job has no read in flight either.
    } finally {
      this.#close();
    }
  }

  #close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#thread.failed.delete(this.#id);
  }
}

/** The pool uploads use unless told otherwise. */
export const sharedHashPool = new HashPool();
