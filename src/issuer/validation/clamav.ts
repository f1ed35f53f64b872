import net from 'node:net';
import type { Readable } from 'node:stream';
import type { Validator, ValidatorVerdict } from './validators.js';

/** Where clamd listens, and how long it may take. */
export interface ClamdOptions {
  /** `HOST:PORT` (TCP, `[::1]:3310` for IPv6) or an absolute Unix socket path. */
  address: string;
  /** Connecting, ms. Default 5 000. */
  connectTimeout?: number;
  /** Longest silence of clamd while it takes or scans the stream, ms. Default 60 000. */
  idleTimeout?: number;
}

/** Bytes sent per INSTREAM chunk (each with its 4-byte length). */
const CHUNK = 64 * 1024;

/** Where a clamd address points: a TCP port, or a Unix socket. */
export function clamdTarget(address: string): { host: string; port: number } | { path: string } {
  if (address.startsWith('/')) return { path: address };
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65_535) {
    throw new TypeError(`clamd must be HOST:PORT or an absolute socket path, got ${JSON.stringify(address)}`);
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

/**
 * Streams `body` to clamd with `zINSTREAM` (4-byte big-endian chunk lengths, a zero length to
 * end) and reads its one answer: `stream: OK`, `stream: <signature> FOUND`, or an error. Memory
 * stays at one chunk in flight (the socket's backpressure paces the store's stream). Throws when
 * clamd cannot be reached, falls silent, hangs up, or answers with an error (such as `INSTREAM
 * size limit exceeded`: raise `StreamMaxLength` in clamd.conf): the object was not scanned.
 */
export async function scanStream(body: Readable, options: ClamdOptions): Promise<ValidatorVerdict> {
  const { address } = options;
  const socket = net.connect(clamdTarget(address));
  let settled = false;
  // Once clamd answers or hangs up (its size limit, a crash), sending stops: a write waiting for
  // a drain and a read waiting for the store's next bytes both end. One listener each, never one
  // per chunk: a reaction per chunk on this long-lived promise would keep every chunk alive.
  const answered = answerOf(socket, address).finally(() => {
    settled = true;
    socket.emit(ANSWERED);
    body.destroy();
  });
  answered.catch(() => {});
  try {
    socket.setTimeout(options.connectTimeout ?? 5_000, () =>
      socket.destroy(new Error(`clamd at ${address} did not accept a connection in time`)),
    );
    await Promise.race([once(socket, 'connect'), answered]);
    socket.setTimeout(options.idleTimeout ?? 60_000, () =>
      socket.destroy(new Error(`clamd at ${address} fell silent while scanning`)),
    );
    await send(socket, Buffer.from('zINSTREAM\0'));
    for await (const chunk of body) {
      if (settled) break;
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      for (let at = 0; at < bytes.length && !settled; at += CHUNK) {
        const part = bytes.subarray(at, at + CHUNK);
        const length = Buffer.alloc(4);
        length.writeUInt32BE(part.length);
        await send(socket, length);
        await send(socket, part);
      }
    }
    if (!settled) await send(socket, Buffer.alloc(4));
    return verdictOf(await answered, address);
  } catch (error) {
    // clamd's answer, or why there is none, explains a failed write or a stopped read best.
    if (!settled) throw error;
    const outcome = await answered.then(
      (text) => ({ text }),
      (failure: unknown) => ({ failure }),
    );
    if ('text' in outcome) return verdictOf(outcome.text, address);
    throw outcome.failure;
  } finally {
    body.destroy();
    socket.destroy();
  }
}

/** The event a scan's socket emits once clamd has answered or hung up. */
const ANSWERED = 'valet:answered';

/** clamd's one answer (up to its NUL), or why there is none. */
function answerOf(socket: net.Socket, address: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      answer += text;
      const end = answer.indexOf('\0');
      if (end !== -1) resolve(answer.slice(0, end));
    });
    socket.on('end', () => (answer ? resolve(answer) : reject(hungUp(address))));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // clamd hangs up on a stream past its size limit; its answer may not be read by then.
      const cut = error.code === 'EPIPE' || error.code === 'ECONNRESET';
      reject(cut ? hungUp(address) : new Error(`clamd at ${address}: ${error.message}`));
    });
    socket.on('close', () => reject(hungUp(address)));
  });
}

function once(socket: net.Socket, event: 'connect'): Promise<void> {
  return new Promise((resolve) => socket.once(event, () => resolve()));
}

/**
 * Writes with backpressure: waits for `drain` when the socket's buffer is full, or until clamd
 * answers (it stops reading once it has decided, say at its size limit: no drain comes then).
 */
function send(socket: net.Socket, bytes: Buffer): Promise<void> {
  if (socket.destroyed) return Promise.reject(new Error('clamd closed the connection'));
  if (socket.write(bytes)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      socket.off('drain', drained);
      socket.off(ANSWERED, drained);
      socket.off('close', closed);
      if (error) reject(error);
      else resolve();
    };
    const drained = () => done();
    const closed = () => done(new Error('clamd closed the connection'));
    socket.once('drain', drained);
    socket.once(ANSWERED, drained);
    socket.once('close', closed);
  });
}

function hungUp(address: string): Error {
  return new Error(
    `clamd at ${address} closed the connection before it answered: the object was not scanned ` +
      '(clamd does this when it stops, or to an object larger than its StreamMaxLength: then raise ' +
      'StreamMaxLength, MaxScanSize and MaxFileSize in clamd.conf)',
  );
}

/** clamd's answer as a verdict; an error answer throws (not scanned). */
export function verdictOf(line: string, address: string): ValidatorVerdict {
  const text = line.trim();
  if (text === 'stream: OK') return { ok: true };
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found) return { reject: `ClamAV found ${found[1]} in it` };
  if (/size limit exceeded/i.test(text)) {
    throw new Error(
      `clamd at ${address} refused the object as too large to scan (${text}): raise StreamMaxLength, MaxScanSize and MaxFileSize in clamd.conf`,
    );
  }
  throw new Error(`clamd at ${address} could not scan the object: ${text || 'no answer'}`);
}

/** The `clamav` validator: the object's bytes, streamed to clamd. */
export function clamavValidator(options: ClamdOptions): Validator {
  clamdTarget(options.address);
  return {
    name: 'clamav',
    check: async (_object, open) => scanStream(await open(), options),
  };
}

/** True if clamd answers `zPING` with `PONG` within `timeout` ms (for readiness). */
export function pingClamd(address: string, timeout = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(clamdTarget(address));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('zPING\0'));
    socket.on('data', (d: string) => {
      text += d;
      if (text.includes('\0')) socket.destroy();
    });
    socket.on('close', () => resolve(text.startsWith('PONG')));
    socket.on('error', () => resolve(false));
    socket.setTimeout(timeout, () => socket.destroy());
  });
}
