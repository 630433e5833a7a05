/**
 * bench/harness.ts: the statistics the benchmark figures rest on, and where results go.
 */
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { medianCi, quantile, resultFile, runInfo } from '../../../bench/harness.js';
import { changeSchedule } from '../../../bench/balancer-apply.bench.js';

/** P(Binomial(n, 1/2) < k), exactly. */
function below(n: number, k: number): number {
  let p = 0;
  let c = 1;
  for (let j = 0; j < k; j++) {
    p += c * 0.5 ** n;
    c = (c * (n - j)) / (j + 1);
  }
  return p;
}

test('medianCi: the textbook order statistics (n = 15 at 95 %: the 4th and 12th)', () => {
  const xs = Array.from({ length: 15 }, (_, i) => 15 - i); // unsorted on purpose
  const ci = medianCi(xs, 0.95)!;
  assert.equal(ci.lo, 4);
  assert.equal(ci.hi, 12);
  assert.ok(Math.abs(ci.coverage - (1 - 2 * below(15, 4))) < 1e-12);
  assert.ok(ci.coverage >= 0.95 && ci.coverage < 0.97, String(ci.coverage));
});

test('medianCi: the widest interval that still has the coverage, for every n up to 60', () => {
  for (let n = 1; n <= 60; n++) {
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    const ci = medianCi(xs, 0.95);
    if (n < 6) {
      // Even [min, max] covers with only 1 - 2 / 2^n < 95 %.
      assert.equal(ci, null, `n=${n}`);
      continue;
    }
    assert.ok(ci, `n=${n}`);
    const k = ci.lo;
    assert.equal(ci.hi, n + 1 - k, `n=${n}: symmetric`);
    assert.ok(below(n, k) <= 0.025 + 1e-12, `n=${n}: coverage holds at k=${k}`);
    assert.ok(below(n, k + 1) > 0.025, `n=${n}: k=${k + 1} would not hold, so k is the largest`);
  }
});

test('quantile interpolates between order statistics', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([4, 1, 3, 2], 0), 1);
  assert.equal(quantile([4, 1, 3, 2], 1), 4);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test('a quick run writes beside the full result, never over it', () => {
  assert.match(resultFile('relay', false), /\/bench\/results\/relay\.json$/);
  assert.match(resultFile('relay', true), /\/bench\/results\/relay\.quick\.json$/);
});

test('every result records commit, dirty flag, quick flag, node, kernel, date, cores and load', () => {
  const at = new Date('2026-12-07T12:00:00Z');
  const r = runInfo({ quick: true, startedAt: at });
  let head: string | null = null;
  try {
    head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: new URL('../../../../', import.meta.url), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    /* not a git checkout: the result says so with null */
  }
  assert.equal(r.commit, head);
  if (head !== null) assert.match(head, /^[0-9a-f]{40}$/);
  assert.equal(typeof r.dirty, head === null ? 'object' : 'boolean');
  assert.equal(r.quick, true);
  assert.equal(r.node, process.version);
  assert.match(r.kernel, /^\d+\.\d+/);
  assert.equal(r.date, '2026-12-07T12:00:00.000Z');
  assert.equal(typeof r.machine.cores, 'number');
  assert.equal(r.load.start.length, 3);
});

test('balancer-apply: every scheduled apply changes exactly one link, each link down and up in turn', () => {
  const names = ['a', 'b', 'c'];
  const s = changeSchedule(names, 12);
  let prev: Record<string, string> = { a: 'online', b: 'online', c: 'online' };
  const seen: string[] = [];
  for (const st of s) {
    const changed = names.filter((n) => st[n] !== prev[n]);
    assert.equal(changed.length, 1, JSON.stringify({ prev, st }));
    seen.push(`${changed[0]} ${st[changed[0]!]}`);
    prev = st;
  }
  assert.deepEqual(seen.slice(0, 6), ['a offline', 'a online', 'b offline', 'b online', 'c offline', 'c online']);
  assert.deepEqual(seen.slice(6), seen.slice(0, 6));
});
