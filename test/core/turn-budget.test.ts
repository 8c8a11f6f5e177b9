// TurnBudget (src/http/turn-budget.ts): large-body writes stop for the rest of an event-loop
// turn once they used its time budget, and continue in the next turn, first come first served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TurnBudget } from '../../src/http/turn-budget.js';

test('turn budget: writes go at once until the turn used its budget, then wait for the next turn in order', async () => {
  let now = 0;
  const b = new TurnBudget(2, () => now);
  assert.equal(b.take(), null);
  b.spend(() => (now += 1.5)); // a 1.5 ms write
  assert.equal(b.take(), null, 'under the budget: write now');
  b.spend(() => (now += 1));
  const order: string[] = [];
  const wait = async (name: string) => {
    for (let w = b.take(); w; w = b.take()) await w;
    order.push(name);
    b.spend(() => (now += 1.5));
  };
  const a = wait('a');
  const c = wait('c');
  await Promise.resolve();
  assert.deepEqual(order, [], 'over the budget: nobody writes in this turn');
  await new Promise((r) => setImmediate(r));
  await a;
  // 'a' used 1.5 ms of the new turn's 2; 'c' still fits (the check is before a write)
  await c;
  assert.deepEqual(order, ['a', 'c']);
  // the turn after: a fresh budget
  await new Promise((r) => setImmediate(r));
  assert.equal(b.take(), null);
});

test('turn budget: a write that throws still counts its time', () => {
  let now = 0;
  const b = new TurnBudget(2, () => now);
  assert.throws(() => b.spend(() => ((now += 5), (() => { throw new Error('EPIPE'); })())));
  assert.notEqual(b.take(), null);
});
