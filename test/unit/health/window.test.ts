/**
 * The quality window's figures (loss, RTT mean and last, per-target jitter), the deadline
 * estimator, the quality verdict with hysteresis and the effective weight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QualityWindow } from '../../../src/health/window.js';
import { DeadlineEstimator, MIN_DEADLINE_MS } from '../../../src/health/deadline.js';
import { effectiveWeight, judgeQuality, MIN_QUALITY_SAMPLES } from '../../../src/health/quality.js';

test('window: loss, RTT mean/last and jitter of consecutive RTTs per target', () => {
  const w = new QualityWindow(10_000);
  assert.deepEqual(w.stats(0), { samples: 0, answered: 0, lossPct: undefined, rttMeanMs: undefined, rttLastMs: undefined, jitterMs: undefined });
  // Target a: 10, 14, (lost), 12  → pairs |14-10| = 4, |12-14| = 2
  // Target b: 100, 100            → pair 0
  w.add({ at: 1000, target: 'a', ok: true, rttMs: 10 });
  w.add({ at: 1001, target: 'b', ok: true, rttMs: 100 });
  w.add({ at: 1500, target: 'a', ok: true, rttMs: 14 });
  w.add({ at: 1501, target: 'b', ok: true, rttMs: 100 });
  w.add({ at: 2000, target: 'a', ok: false });
  w.add({ at: 2500, target: 'a', ok: true, rttMs: 12 });
  const s = w.stats(3000);
  assert.equal(s.samples, 6);
  assert.equal(s.answered, 5);
  assert.equal(s.lossPct, (1 / 6) * 100);
  assert.equal(s.rttMeanMs, (10 + 100 + 14 + 100 + 12) / 5);
  assert.equal(s.rttLastMs, 12);
  assert.equal(s.jitterMs, (4 + 0 + 2) / 3, 'b’s distance from a is not jitter');
});

test('window: results older than the window drop out; length can change; clear empties it', () => {
  const w = new QualityWindow(1000);
  for (let t = 0; t < 5000; t += 100) w.add({ at: t, target: 'a', ok: t % 200 === 0, rttMs: t % 200 === 0 ? 5 : undefined });
  const s = w.stats(4950);
  // (3950, 4950]: 4000..4900 → 10 samples, 5 answered.
  assert.equal(s.samples, 10);
  assert.equal(s.lossPct, 50);
  w.setLength(500);
  assert.equal(w.stats(4950).samples, 5);
  w.clear();
  assert.equal(w.stats(4950).samples, 0);
});

test('deadline: full timeout until an answer, then RFC 6298 style with a floor and a spike term', () => {
  const e = new DeadlineEstimator();
  assert.equal(e.deadline(1000), 1000);
  for (let i = 0; i < 20; i++) e.observe(2);
  assert.equal(e.deadline(1000), MIN_DEADLINE_MS);
  for (let i = 0; i < 20; i++) e.observe(80);
  const d = e.deadline(1000);
  assert.ok(d >= 160 && d < 300, `steady 80 ms: ${d}`);
  e.observe(400);
  assert.ok(e.deadline(1000) >= 800, 'one slow answer lifts the next deadline to twice its RTT');
  e.observe(5000);
  assert.equal(e.deadline(1000), 1000, 'never above the timeout');
});

const stats = (over: Partial<ReturnType<QualityWindow['stats']>>) => ({
  samples: MIN_QUALITY_SAMPLES,
  answered: MIN_QUALITY_SAMPLES,
  lossPct: 0,
  rttMeanMs: 10,
  rttLastMs: 10,
  jitterMs: 1,
  ...over,
});

test('quality: each limit, with default recover thresholds (loss × 0.5, rtt and jitter × 0.8)', () => {
  const q = { maxLossPct: 10, maxRttMs: 100, maxJitterMs: 20 };
  assert.equal(judgeQuality(q, stats({}), false), undefined);
  assert.deepEqual(judgeQuality(q, stats({ lossPct: 12 }), false), { degraded: true, reason: { kind: 'quality', metric: 'loss', value: 12, threshold: 10 } });
  assert.deepEqual(judgeQuality(q, stats({ rttMeanMs: 101 }), false)?.reason, { kind: 'quality', metric: 'rtt', value: 101, threshold: 100 });
  assert.deepEqual(judgeQuality(q, stats({ jitterMs: 25 }), false)?.reason, { kind: 'quality', metric: 'jitter', value: 25, threshold: 20 });
  assert.equal(judgeQuality(q, stats({ lossPct: 10 }), false), undefined, 'at the limit is not above it');
  // Degraded: stays until every figure is below its recover threshold.
  assert.equal(judgeQuality(q, stats({ lossPct: 6 }), true), undefined);
  assert.equal(judgeQuality(q, stats({ lossPct: 4, rttMeanMs: 85 }), true), undefined);
  const r = judgeQuality(q, stats({ lossPct: 4, rttMeanMs: 50, jitterMs: 2 }), true);
  assert.equal(r?.degraded, false);
  assert.equal(r?.reason.kind, 'quality-recovered');
});

test('quality: explicit recover thresholds; too few samples judge nothing; no limits recover', () => {
  const q = { maxLossPct: 10, recoverLossPct: 1 };
  assert.equal(judgeQuality(q, stats({ lossPct: 2 }), true), undefined);
  assert.deepEqual(judgeQuality(q, stats({ lossPct: 0.5 }), true)?.reason, { kind: 'quality-recovered', metric: 'loss', value: 0.5, threshold: 1 });
  assert.equal(judgeQuality(q, stats({ lossPct: 100, samples: MIN_QUALITY_SAMPLES - 1 }), false), undefined);
  assert.deepEqual(judgeQuality(undefined, stats({}), true), { degraded: false, reason: { kind: 'reconfigured' } });
  assert.equal(judgeQuality(undefined, stats({}), false), undefined);
});

test('effective weight per state and degraded action', () => {
  const link = (action: 'keep' | 'reduce' | 'remove', weight = 5, dw = 2) => ({ weight, degraded: { action, weight: dw } });
  assert.equal(effectiveWeight('online', link('reduce')), 5);
  assert.equal(effectiveWeight('degraded', link('keep')), 5);
  assert.equal(effectiveWeight('degraded', link('reduce')), 2);
  assert.equal(effectiveWeight('degraded', link('reduce', 1, 3)), 1, 'reduce never raises');
  assert.equal(effectiveWeight('degraded', link('remove')), 0);
  for (const s of ['probing', 'offline', 'disabled'] as const) assert.equal(effectiveWeight(s, link('keep')), 0);
});

test('PeakWindow: the highest value of the last 5 minutes, older peaks forgotten', async () => {
  const { PeakWindow } = await import('../../../src/health/deadline.js');
  const p = new PeakWindow(300_000);
  assert.equal(p.max(0), undefined);
  p.observe(0, 5);
  p.observe(1000, 250);
  p.observe(2000, 40);
  assert.equal(p.max(2000), 250);
  assert.equal(p.max(300_999), 250);
  assert.equal(p.max(301_001), 40, 'the 250 seen at 1 s is older than 5 minutes');
  p.observe(400_000, 30);
  assert.equal(p.max(400_000), 30);
  p.observe(400_001, Number.NaN);
  assert.equal(p.max(400_001), 30);
});
