import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import { describe, it, mock } from 'node:test';
import { HoldClock } from '../disk/hold-clock.js';
import type { Exchange } from './exchange.js';
import { watchBodyRate } from './min-rate.js';

/** A request with a body whose socket has read `bytesRead` bytes, and a clock the test moves. */
function fakeExchange() {
  const req = Object.assign(new EventEmitter(), {
    headers: { 'content-length': '1000000' },
    socket: { bytesRead: 0 },
    complete: false,
    destroyed: false,
  });
  const ex = { req: req as unknown as http.IncomingMessage } as Exchange;
  return { ex, req };
}

describe('minimum body rate', () => {
  // Judged on the test's clock, checked on real timers every window / 4 (10 ms).
  const rate = { bytesPerSecond: 1000, window: 40 };
  const ticks = (n: number) => new Promise((r) => setTimeout(r, n * 10 + 20));
  async function until(cond: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !cond(); i++) await ticks(1);
  }

  it('cuts a body that arrives slower than the rate over a window, once', async () => {
    let now = 0;
    const { ex, req } = fakeExchange();
    const tooSlow = mock.fn();
    watchBodyRate(ex, rate, tooSlow, () => now);
    now += 100;
    req.socket.bytesRead += 80; // 800 B/s over 100 ms
    await until(() => tooSlow.mock.callCount() > 0);
    await ticks(5);
    assert.equal(tooSlow.mock.callCount(), 1, 'cut once');
  });

  it('lets a body that keeps the rate go on', async () => {
    let now = 0;
    const { ex, req } = fakeExchange();
    const tooSlow = mock.fn();
    watchBodyRate(ex, rate, tooSlow, () => now);
    for (let i = 0; i < 5; i++) {
      now += 100;
      req.socket.bytesRead += 120; // 1200 B/s
      await ticks(2);
    }
    assert.equal(tooSlow.mock.callCount(), 0);
    req.emit('close');
  });

  it('does not count the time storage held the body unread against the client', async () => {
    let now = 0;
    const { ex } = fakeExchange();
    const tooSlow = mock.fn();
    watchBodyRate(ex, rate, tooSlow, () => now);
    assert.ok(ex.held instanceof HoldClock, 'the body reader gets a clock to report holds on');
    // Storage waits 250 windows for its turn to write: the client can send nothing meanwhile.
    ex.held.set(true);
    now += 10_000;
    await ticks(5);
    assert.equal(tooSlow.mock.callCount(), 0, 'a hold is not a slow client');
    ex.held.set(false);
    // Reading again, the client is judged on reading time only: sending nothing, it is cut.
    now += 50;
    await until(() => tooSlow.mock.callCount() > 0);
    assert.equal(tooSlow.mock.callCount(), 1);
  });

  it('counts holds, including one still going on', () => {
    let now = 0;
    const clock = new HoldClock(() => now);
    clock.set(true);
    now = 300;
    clock.set(true); // already holding: no change
    assert.equal(clock.total(), 300);
    clock.set(false);
    now = 1000;
    clock.set(false);
    assert.equal(clock.total(), 300);
    clock.set(true);
    now = 1500;
    assert.equal(clock.total(), 800);
  });
});
