/** The plan's retry schedule and outcome tracking: backoff, READY=1 decision, status and metrics. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FAILURE_LINES, PLAN_RETRY, PlanTracker, planMetricFamilies, retryDelayMs } from '../../../src/daemon/plan-retry.js';
import { formatMetrics } from '../../../src/status/metrics.js';

test('retryDelayMs: 0.5 s doubling per attempt, capped at 30 s; nonsense attempts count as the first', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 100].map((n) => retryDelayMs(n)),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
  assert.equal(retryDelayMs(0), 500);
  assert.equal(retryDelayMs(-3), 500);
  assert.equal(retryDelayMs(Number.NaN), 500);
  assert.equal(retryDelayMs(2.7), 1000);
  assert.equal(retryDelayMs(1e9), PLAN_RETRY.maxMs, 'a huge attempt count stays finite at the cap');
  assert.equal(retryDelayMs(3, { firstMs: 100, maxMs: 250 }), 250);
});

test('PlanTracker: failures back off and count; the first good apply says READY; a good one resets the backoff', () => {
  const t0 = 1_000_000;
  const p = new PlanTracker(t0);
  assert.equal(p.status().state, 'pending');
  assert.equal(p.ready, false);

  let d = p.record({ ok: false, failures: ['nft replace-table: spawn nft ENOENT'] }, t0 + 10);
  assert.deepEqual(d, { retryInMs: 500, firstOk: false, recovered: false });
  d = p.record({ ok: false, failures: ['nft replace-table: exit 1'] }, t0 + 600);
  assert.equal(d.retryInMs, 1000);
  d = p.record({ ok: false, failures: ['nft replace-table: exit 1'] }, t0 + 1700);
  assert.equal(d.retryInMs, 2000);
  let st = p.status();
  assert.equal(st.state, 'failed');
  assert.equal(st.since, new Date(t0 + 10).toISOString(), 'since the first failure of the run');
  assert.equal(st.consecutiveFailures, 3);
  assert.equal(st.failuresTotal, 3);
  assert.deepEqual(st.failures, ['nft replace-table: exit 1']);
  assert.equal(st.nextRetryAt, new Date(t0 + 1700 + 2000).toISOString());
  assert.equal(p.failing, true);
  assert.equal(p.ready, false);

  d = p.record({ ok: true, failures: [] }, t0 + 4000);
  assert.deepEqual(d, { retryInMs: undefined, firstOk: true, recovered: true });
  st = p.status();
  assert.equal(st.state, 'ok');
  assert.equal(st.consecutiveFailures, 0);
  assert.equal(st.failuresTotal, 3, 'the total stays');
  assert.deepEqual(st.failures, []);
  assert.equal(st.nextRetryAt, undefined);
  assert.equal(p.ready, true);

  d = p.record({ ok: true, failures: [] }, t0 + 5000);
  assert.deepEqual(d, { retryInMs: undefined, firstOk: false, recovered: false }, 'READY only once');
  assert.equal(p.status().since, new Date(t0 + 4000).toISOString(), 'ok since the first good apply');

  d = p.record({ ok: false, failures: [] }, t0 + 6000);
  assert.equal(d.retryInMs, 500, 'a new run of failures starts the backoff again');
  assert.deepEqual(p.status().failures, ['failed (no detail)']);
  assert.equal(p.status().failuresTotal, 4);
});

test('PlanTracker: a plan with many failing objects keeps a bounded list', () => {
  const p = new PlanTracker(0);
  p.record({ ok: false, failures: Array.from({ length: 500 }, (_, i) => `route ${i}: EINVAL`) }, 1);
  const f = p.status().failures;
  assert.equal(f.length, MAX_FAILURE_LINES + 1);
  assert.equal(f.at(-1), `… and ${500 - MAX_FAILURE_LINES} more`);
});

test('planMetricFamilies: wanbraid_plan_failures_total and wanbraid_plan_failing', () => {
  const p = new PlanTracker(0);
  p.record({ ok: false, failures: ['x'] }, 1);
  p.record({ ok: false, failures: ['x'] }, 2);
  const text = formatMetrics(planMetricFamilies(p.status()));
  assert.match(text, /^# TYPE wanbraid_plan_failures_total counter$/m);
  assert.match(text, /^wanbraid_plan_failures_total 2$/m);
  assert.match(text, /^wanbraid_plan_failing 1$/m);
  p.record({ ok: true, failures: [] }, 3);
  assert.match(formatMetrics(planMetricFamilies(p.status())), /^wanbraid_plan_failing 0$/m);
});
