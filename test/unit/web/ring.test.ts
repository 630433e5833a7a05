import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../../../src/web/ring.js';

test('ring: keeps the newest `capacity` entries, oldest first', () => {
  const r = new Ring<number>(3);
  assert.deepEqual(r.toArray(), []);
  assert.equal(r.last(), undefined);
  for (let i = 1; i <= 2; i++) r.push(i);
  assert.deepEqual(r.toArray(), [1, 2]);
  for (let i = 3; i <= 10; i++) r.push(i);
  assert.deepEqual(r.toArray(), [8, 9, 10]);
  assert.equal(r.size, 3);
  assert.equal(r.last(), 10);
  r.clear();
  assert.deepEqual(r.toArray(), []);
  r.push(11);
  assert.deepEqual(r.toArray(), [11]);
});

test('ring: against a naive list for many pushes and capacities', () => {
  for (const cap of [1, 2, 5, 17]) {
    const r = new Ring<number>(cap);
    const naive: number[] = [];
    for (let i = 0; i < 100; i++) {
      r.push(i);
      naive.push(i);
      assert.deepEqual(r.toArray(), naive.slice(-cap));
    }
  }
});

test('ring: a capacity that is not a positive integer is refused', () => {
  for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => new Ring(bad), RangeError);
});
