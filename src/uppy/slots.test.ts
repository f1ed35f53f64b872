import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Slots } from './slots.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Slots', () => {
  it('runs at most `limit` tasks at once, in arrival order', async () => {
    const slots = new Slots(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const task = (n: number) => async () => {
      running++;
      most = Math.max(most, running);
      order.push(n);
      await tick();
      running--;
      return n;
    };
    const signal = new AbortController().signal;
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => slots.run(signal, task(n))));
    assert.deepEqual(results, [1, 2, 3, 4, 5]);
    assert.deepEqual(order, [1, 2, 3, 4, 5]);
    assert.equal(most, 2);
  });

  it('drops a waiting task whose signal aborts, and gives its place to the next', async () => {
    const slots = new Slots(1);
    const first = new AbortController();
    const waiting = new AbortController();
    const ran: string[] = [];
    const a = slots.run(first.signal, async () => {
      await tick();
      ran.push('a');
    });
    const b = slots.run(waiting.signal, async () => {
      ran.push('b');
    });
    const c = slots.run(new AbortController().signal, async () => {
      ran.push('c');
    });
    waiting.abort(new Error('paused'));
    await assert.rejects(b, /paused/);
    await Promise.all([a, c]);
    assert.deepEqual(ran, ['a', 'c']);
  });

  it('refuses a task whose signal has already aborted, and a limit below one', async () => {
    const slots = new Slots(1);
    const gone = new AbortController();
    gone.abort(new Error('gone'));
    let ran = false;
    await assert.rejects(
      slots.run(gone.signal, async () => {
        ran = true;
      }),
      /gone/,
    );
    assert.equal(ran, false);
    assert.throws(() => new Slots(0), RangeError);
  });
});
