import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WriteBudget } from './write-budget.js';

const KiB = 1024;

describe('WriteBudget', () => {
  it('lets an upload go on at once while there is room and nobody waits', () => {
    const budget = new WriteBudget(256 * KiB);
    budget.take(64 * KiB);
    let resumed = false;
    budget.wait(() => {
      resumed = true;
    });
    assert.equal(resumed, true);
    assert.equal(budget.waiting, 0);
  });

  it('makes uploads wait while it is spent, and resumes them first come, first served', () => {
    const budget = new WriteBudget(256 * KiB);
    budget.take(256 * KiB);
    assert.equal(budget.full, true);
    const order: string[] = [];
    for (const name of ['a', 'b', 'c']) budget.wait(() => order.push(name));
    assert.deepEqual(order, [], 'nobody resumes while the budget is spent');
    assert.equal(budget.waiting, 3);
    budget.give(64 * KiB);
    assert.deepEqual(order, ['a'], 'room for one socket read: one upload resumes');
    budget.give(192 * KiB);
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(budget.used, 0);
  });

  it('queues a newcomer behind those already waiting even when there is room', () => {
    const budget = new WriteBudget(128 * KiB);
    budget.take(128 * KiB);
    const order: string[] = [];
    budget.wait(() => order.push('first'));
    budget.wait(() => order.push('second'));
    budget.wait(() => order.push('third'));
    budget.give(64 * KiB); // room for one: 'first' resumes, and has not written yet
    budget.wait(() => order.push('late'));
    assert.deepEqual(order, ['first'], 'the newcomer does not jump the queue');
  });

  it('does not leave uploads waiting behind resumed ones that never write', async () => {
    const budget = new WriteBudget(128 * KiB);
    budget.take(128 * KiB);
    const order: string[] = [];
    for (const name of ['slow1', 'slow2', 'next']) budget.wait(() => order.push(name));
    budget.give(128 * KiB);
    assert.deepEqual(order, ['slow1', 'slow2'], 'one pass resumes what the room holds at one read each');
    // slow1 and slow2 send nothing, so no write lands to resume 'next': it must not wait forever.
    for (let i = 0; i < 100 && order.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(order, ['slow1', 'slow2', 'next']);
  });
});
