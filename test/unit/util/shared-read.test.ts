/**
 * SharedRead with a fake clock and a counting fake reader: concurrent calls share one read, a
 * call within the TTL is served from the kept value, one after it reads again; failures are not
 * kept; invalidate forgets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedRead } from '../../../src/util/shared-read.js';

function fakeReader() {
  let calls = 0;
  let release: (() => void)[] = [];
  let fail = false;
  const read = () =>
    new Promise<number>((resolve, reject) => {
      calls++;
      const n = calls;
      release.push(() => (fail ? reject(new Error(`read ${n} failed`)) : resolve(n)));
    });
  return {
    read,
    get calls() {
      return calls;
    },
    releaseAll() {
      const r = release;
      release = [];
      r.forEach((f) => f());
    },
    setFail(v: boolean) {
      fail = v;
    },
  };
}

test('N concurrent calls make one read; within the TTL the value is kept; after it, a new read', async () => {
  let clock = 0;
  const f = fakeReader();
  const s = new SharedRead(f.read, 1000, () => clock);
  const many = Array.from({ length: 300 }, () => s.get());
  assert.equal(f.calls, 1);
  f.releaseAll();
  assert.deepEqual(new Set(await Promise.all(many)), new Set([1]));
  clock += 999;
  assert.equal(await s.get(), 1, 'kept within the TTL');
  assert.equal(f.calls, 1);
  clock += 1;
  const next = s.get();
  assert.equal(f.calls, 2, 'a call after the TTL reads again');
  f.releaseAll();
  assert.equal(await next, 2);
  assert.equal(s.readCount, 2);
});

test('a failed read is shared by its concurrent callers but not kept', async () => {
  const clock = 0;
  const f = fakeReader();
  const s = new SharedRead(f.read, 1000, () => clock);
  f.setFail(true);
  const a = s.get();
  const b = s.get();
  f.releaseAll();
  await assert.rejects(a, /read 1 failed/);
  await assert.rejects(b, /read 1 failed/);
  f.setFail(false);
  const c = s.get();
  assert.equal(f.calls, 2, 'the failure was not kept');
  f.releaseAll();
  assert.equal(await c, 2);
});

test('invalidate forgets the kept value and a read in flight', async () => {
  const clock = 0;
  const f = fakeReader();
  const s = new SharedRead(f.read, 1000, () => clock);
  const a = s.get();
  s.invalidate();
  const b = s.get();
  assert.equal(f.calls, 2);
  f.releaseAll();
  assert.equal(await a, 1);
  assert.equal(await b, 2);
  assert.equal(await s.get(), 2, 'the read started after invalidate is kept');
  assert.equal(f.calls, 2);
});
