import { read } from 'node:fs';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { HoldClock } from './hold-clock.js';

/**
 * Sending an object's bytes to a client, in bounded memory however slowly the client reads.
 *
 * A download reads a chunk from disk while the socket sends the one before (two buffers, reused
 * for the whole transfer: nothing is allocated per chunk). A buffer handed to the socket stays
 * in memory until the kernel takes it, so a client that reads slowly holds both buffers for as
 * long as it likes: with 256 KiB buffers, 1,000 slow readers held 559 KiB each. So a download
 * starts with two 16 KiB buffers and moves to 256 KiB ones only once the client has kept up for a
 * few chunks and the server-wide budget for large buffers ({@link SendBudget}) allows; a client
 * that makes it wait goes back to small ones and returns its share. What slow readers can hold
 * is then the budget plus 32 KiB each (and the connection limit bounds how many there are).
 */

const readFd = promisify(read);

/** Buffers a download starts with, and a slow client keeps. */
export const SMALL_CHUNK = 16 * 1024;
/** Buffers of a client that keeps up (and the budget allows): few reads per GiB. */
export const LARGE_CHUNK = 256 * 1024;
/** Chunks a client must take without making storage wait before its buffers grow. */
const RAMP_CHUNKS = 4;
/** A wait this long for the client (ms) sends it back to small buffers. */
const SLOW_WAIT_MS = 200;
/** Default budget for large download buffers, bytes: 128 downloads at full speed at once. */
export const DEFAULT_SEND_BUDGET = 64 * 1024 * 1024;

/** The bytes of large download buffers the whole server may hold at once. */
export class SendBudget {
  readonly limit: number;
  #held = 0;

  constructor(limit = DEFAULT_SEND_BUDGET) {
    this.limit = limit;
  }

  /** Takes `bytes` if the budget has them. */
  take(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }

  /** Bytes held by downloads now. */
  get held(): number {
    return this.#held;
  }
}

/** How a download is going: bytes the client took, and the time storage waited for it. */
export class SendProgress {
  /** Bytes the socket has taken (handed to the kernel). */
  sent = 0;
  /** Bytes handed to the socket that it has not taken yet (at most two buffers). */
  pending = 0;
  /** Time spent waiting for the client to take a chunk (its share of the transfer time). */
  readonly waiting: HoldClock;

  constructor(now: () => number = Date.now) {
    this.waiting = new HoldClock(now);
  }
}

/** Options of {@link sendFileRange}. */
export interface SendOptions {
  /** Where large buffers come from; without one a download keeps small buffers. */
  budget?: SendBudget;
  /** Updated as the download goes (see {@link SendProgress}). */
  progress?: SendProgress;
}

/** One of the two buffers and the write of it still in flight. */
interface Slot {
  buffer: Buffer;
  writing: Promise<void> | undefined;
  done: boolean;
}

/**
 * Sends bytes `first` to `last` (inclusive) of `fd` to `out`, then ends it. Resolves early,
 * without error, if `out` is closed (the client went away).
 */
export async function sendFileRange(
  fd: number,
  first: number,
  last: number,
  out: Writable,
  options: SendOptions = {},
): Promise<void> {
  const buffers = new Buffers(out, options);
  try {
    let position = first;
    for (let i = 0; position <= last && !buffers.closed; i ^= 1) {
      const slot = await buffers.ready(i, last - position + 1);
      if (!slot) continue; // the buffers changed size: start again with the first
      if (buffers.closed) break;
      const length = Math.min(slot.buffer.length, last - position + 1);
      const { bytesRead } = await readFd(fd, slot.buffer, 0, length, position);
      if (bytesRead === 0) throw new Error('the object file is shorter than its header says');
      position += bytesRead;
      buffers.write(slot, slot.buffer.subarray(0, bytesRead));
    }
    await buffers.finish();
  } finally {
    buffers.release();
  }
}

/** A download's two buffers: their writes, their size, and their share of the budget. */
class Buffers {
  readonly #out: Writable;
  readonly #budget: SendBudget | undefined;
  readonly #progress: SendProgress | undefined;
  #slots: Slot[] = [newSlot(SMALL_CHUNK), newSlot(SMALL_CHUNK)];
  #reserved = 0;
  #keptUp = 0;
  closed: boolean;
  readonly #onClose = () => {
    this.closed = true;
  };

  constructor(out: Writable, options: SendOptions) {
    this.#out = out;
    this.#budget = options.budget;
    this.#progress = options.progress;
    this.closed = out.destroyed;
    out.on('close', this.#onClose);
  }

  /**
   * Slot `i`, once the client has taken what it held; undefined when the buffers changed size
   * instead (a client that keeps up moves to large ones, one that makes storage wait to small).
   */
  async ready(i: number, left: number): Promise<Slot | undefined> {
    const slot = this.#slots[i] as Slot;
    const large = this.#reserved > 0;
    if (slot.writing && !slot.done) {
      // The client has not taken this buffer yet: storage waits for it.
      this.#keptUp = 0;
      const started = Date.now();
      this.#progress?.waiting.set(true);
      await slot.writing;
      this.#progress?.waiting.set(false);
      if (large && Date.now() - started >= SLOW_WAIT_MS) {
        // A slow client: back to small buffers, and the large ones' share back once sent.
        await this.#settled();
        this.#budget?.give(this.#reserved);
        this.#reserved = 0;
        this.#slots = [newSlot(SMALL_CHUNK), newSlot(SMALL_CHUNK)];
        return undefined;
      }
    } else if (slot.writing) this.#keptUp++;
    if (
      !large &&
      this.#keptUp >= RAMP_CHUNKS &&
      left > 2 * SMALL_CHUNK &&
      this.#budget?.take(2 * LARGE_CHUNK)
    ) {
      await this.#settled();
      this.#reserved = 2 * LARGE_CHUNK;
      this.#slots = [newSlot(LARGE_CHUNK), newSlot(LARGE_CHUNK)];
      return undefined;
    }
    return slot;
  }

  /** Hands `chunk` (a view of the slot's buffer) to the socket. */
  write(slot: Slot, chunk: Buffer): void {
    const out = this.#out;
    const progress = this.#progress;
    slot.done = false;
    if (progress) progress.pending += chunk.length;
    slot.writing = new Promise<void>((resolve) => {
      // A destroyed socket may never call back: 'close' settles the wait instead.
      const settle = (error?: Error | null) => {
        out.off('close', settle);
        if (!slot.done && progress) {
          progress.pending -= chunk.length;
          if (!error) progress.sent += chunk.length;
        }
        slot.done = true;
        resolve();
      };
      out.once('close', settle);
      out.write(chunk, settle);
    });
  }

  /** Every byte is handed over: waits until the client has taken it, then ends the answer. */
  async finish(): Promise<void> {
    this.#progress?.waiting.set(true);
    await this.#settled();
    if (!this.closed) await new Promise<void>((resolve) => this.#out.end(resolve));
    this.#progress?.waiting.set(false);
  }

  /** Stops listening; the budget's share goes back once no write holds a buffer. */
  release(): void {
    this.#out.off('close', this.#onClose);
    this.#progress?.waiting.set(false);
    const reserved = this.#reserved;
    if (reserved > 0) void this.#settled().then(() => this.#budget?.give(reserved));
  }

  #settled(): Promise<unknown> {
    return Promise.all(this.#slots.map((s) => s.writing));
  }
}

function newSlot(size: number): Slot {
  return { buffer: Buffer.allocUnsafe(size), writing: undefined, done: true };
}
