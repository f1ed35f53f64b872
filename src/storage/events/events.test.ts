import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import pino from 'pino';
import { verifyRequestSignature } from '../../token/signature.js';
import { EventOutbox, type StorageEvent } from './events.js';

const SECRET = 'e'.repeat(43);
const log = pino({ level: 'silent' });

/** A webhook receiver that fails the first `failures` deliveries. */
async function receiver(t: TestContext, failures = 0) {
  const received: StorageEvent[] = [];
  let attempts = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => {
      body += d;
    });
    req.on('end', async () => {
      attempts++;
      try {
        await verifyRequestSignature(SECRET, req.headers['valet-signature'] as string, {
          method: 'POST',
          path: '/hook',
          body,
        });
      } catch {
        res.writeHead(401).end();
        return;
      }
      if (attempts <= failures) {
        res.writeHead(503).end();
        return;
      }
      received.push(JSON.parse(body) as StorageEvent);
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    attempts: () => attempts,
  };
}

const base = {
  type: 'object.created' as const,
  subject: 'alice',
  size: 1,
  content_type: 'text/plain',
  sha256: 'a'.repeat(64),
  etag: '"a"',
};

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('EventOutbox', () => {
  it('delivers published events in order, signed, and never cancelled ones', async (t) => {
    const hook = await receiver(t);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-outbox-'));
    const outbox = EventOutbox.open(dir, { url: hook.url, secret: SECRET }, log);
    t.after(() => outbox.close());
    outbox.start();
    const { seq: a } = outbox.prepare({ ...base, object: 'a', key_id: 'ka' }, Date.now());
    const { seq: b } = outbox.prepare({ ...base, object: 'b', key_id: 'kb' }, Date.now());
    const { seq: c } = outbox.prepare({ ...base, object: 'c', key_id: 'kc' }, Date.now());
    outbox.cancel(b);
    outbox.publish(a);
    outbox.publish(c);
    await until(() => hook.received.length === 2);
    assert.deepEqual(
      hook.received.map((e) => e.object),
      ['a', 'c'],
    );
    assert.match(hook.received[0]?.id ?? '', /^evt_/);
    await until(() => outbox.pending === 0);
  });

  it('retries with backoff until the issuer acknowledges', async (t) => {
    const hook = await receiver(t, 3);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-outbox-'));
    const outbox = EventOutbox.open(dir, { url: hook.url, secret: SECRET, retryDelay: 5 }, log);
    t.after(() => outbox.close());
    outbox.start();
    outbox.publish(outbox.prepare({ ...base, object: 'a', key_id: 'ka' }, Date.now()).seq);
    await until(() => hook.received.length === 1);
    assert.equal(hook.attempts(), 4);
  });

  it('after a crash, delivers prepared events whose change landed and drops the others', async (t) => {
    const hook = await receiver(t);
    const dir = await mkdtemp(path.join(tmpdir(), 'valet-outbox-'));
    const crashed = EventOutbox.open(dir, { url: hook.url, secret: SECRET }, log);
    crashed.prepare({ ...base, object: 'landed', key_id: 'k1' }, Date.now());
    crashed.prepare({ ...base, object: 'lost', key_id: 'k2' }, Date.now());
    await crashed.close(); // never published: as if the process died between commit and publish

    const outbox = EventOutbox.open(dir, { url: hook.url, secret: SECRET }, log);
    t.after(() => outbox.close());
    const asked: string[] = [];
    await outbox.recover(async (row) => {
      asked.push(row.object);
      return row.object === 'landed';
    });
    assert.deepEqual(asked, ['landed', 'lost']);
    outbox.start();
    await until(() => hook.received.length === 1);
    assert.equal(hook.received[0]?.object, 'landed');
    await until(() => outbox.pending === 0);
  });
});
