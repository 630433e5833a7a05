/** The pure parts of the speed test: the schedule of its phases, the rate of a phase, the share, the limits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSeconds, measure, phaseLabel, schedule, share, warmupMs, type Sample } from '../../../src/relay/speedtest-plan.js';
import { speedTestMetricFamilies } from '../../../src/relay/speedtest-metrics.js';
import { formatMetrics } from '../../../src/status/metrics.js';
import { WanbraidError } from '../../../src/errors.js';

test('each path alone (download then upload), then both directions striped over all of them', () => {
  const s = schedule(['wan1', 'wan2'], 3);
  assert.deepEqual(
    s.map((p) => [phaseLabel(p), p.paths.join('+'), p.ms]),
    [
      ['wan1 download', 'wan1', 3000],
      ['wan1 upload', 'wan1', 3000],
      ['wan2 download', 'wan2', 3000],
      ['wan2 upload', 'wan2', 3000],
      ['striped download', 'wan1+wan2', 3000],
      ['striped upload', 'wan1+wan2', 3000],
    ],
  );
  assert.deepEqual(schedule(['only'], 2).map(phaseLabel), ['only download', 'only upload'], 'one path: nothing to stripe');
});

/** Samples every `step` ms of a stream at `bps` from time `start`, with `stall` = [from, to) ms with no bytes. */
function stream(bps: number, ms: number, opts: { step?: number; start?: number; stall?: [number, number] } = {}): Sample[] {
  const step = opts.step ?? 100;
  const out: Sample[] = [];
  let bytes = 0;
  for (let t = 0; t <= ms; t += step) {
    out.push({ t: (opts.start ?? 0) + t, bytes: Math.round(bytes) });
    const stalled = opts.stall && t >= opts.stall[0] && t < opts.stall[1];
    if (!stalled) bytes += (bps / 8) * (step / 1000);
  }
  return out;
}

test('a steady stream is measured at its rate, the warm-up left out', () => {
  const m = measure(stream(20e6, 4000, { start: 1234 }), warmupMs(4000))!;
  assert.ok(Math.abs(m.bps - 20e6) < 1e3, `${m.bps}`);
  assert.ok(Math.abs(m.meanBps - 20e6) < 1e3);
  assert.equal(m.ms, 3000, 'from 1 s after the start to the end');
  // A slow start only in the warm-up does not count: 5 Mbit/s for 500 ms, then 20.
  const slow = stream(5e6, 500).concat(stream(20e6, 3500, { start: 600 }).map((s) => ({ t: s.t, bytes: s.bytes + 312_500 })));
  assert.ok(Math.abs(measure(slow, 1000)!.bps - 20e6) < 1e3);
});

test('a momentary stall is set aside by the trimmed mean; the plain mean shows it', () => {
  const m = measure(stream(20e6, 4000, { stall: [2000, 2300] }), 1000)!;
  assert.ok(Math.abs(m.bps - 20e6) < 1e3, `sustained ${m.bps}`);
  assert.ok(m.meanBps < 0.92 * 20e6, `plain mean ${m.meanBps} shows the 300 ms stall`);
  // A stream that is slow throughout is not lifted by the trimming.
  const half = measure(stream(10e6, 4000), 1000)!;
  assert.ok(Math.abs(half.bps - 10e6) < 1e3);
});

test('nothing arrived, or too short a window: no rate', () => {
  assert.equal(measure([{ t: 0, bytes: 0 }, { t: 3000, bytes: 0 }], 1000), undefined);
  assert.equal(measure([], 1000), undefined);
  assert.equal(measure([{ t: 0, bytes: 0 }, { t: 100, bytes: 5000 }], 1000), undefined);
  // A stream shorter than the warm-up is measured from its start.
  const short = measure(stream(8e6, 600), 1000)!;
  assert.ok(Math.abs(short.bps - 8e6) < 1e3);
});

test('share of the sum: striped over the paths alone, unknown when any is unknown', () => {
  assert.equal(share(38e6, [20e6, 20e6]), 0.95);
  assert.equal(share(undefined, [20e6, 20e6]), undefined);
  assert.equal(share(38e6, [20e6, undefined]), undefined);
  assert.equal(share(1, []), undefined);
});

test('seconds: a number from 1 to 20, else an error naming the value', () => {
  assert.equal(checkSeconds(4), 4);
  assert.equal(checkSeconds('2.5'), 2.5);
  for (const bad of [0, 21, 'x', '', null, Number.NaN]) {
    assert.throws(() => checkSeconds(bad), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_REQUEST_INVALID' && /from 1 to 20, got/.test(e.message));
  }
});

test('the last result as metrics: rates in bytes per second, a failed phase has no sample, families present before any test', () => {
  const empty = formatMetrics(speedTestMetricFamilies(undefined));
  assert.match(empty, /# TYPE wanbraid_speedtest_path_bytes_per_second gauge/);
  assert.doesNotMatch(empty, /^wanbraid_speedtest_path_bytes_per_second\{/m);
  const text = formatMetrics(
    speedTestMetricFamilies({
      entry: 'e',
      time: '2026-12-08T00:00:00.000Z',
      seconds: 4,
      paths: [
        { path: 'wan1', link: 'wan1', down: { bps: 20e6, bytes: 1 }, up: { bytes: 0, error: 'x' } },
        { path: 'wan2', down: { bps: 16e6, bytes: 1 }, up: { bps: 8e6, bytes: 1 } },
      ],
      striped: { paths: ['wan1', 'wan2'], down: { bps: 36e6, bytes: 1, share: 1 }, up: { bytes: 0, error: 'fewer than two paths worked alone' } },
    }),
  );
  assert.match(text, /^wanbraid_speedtest_path_bytes_per_second\{entry="e",path="wan1",direction="down"\} 2500000$/m);
  assert.doesNotMatch(text, /path="wan1",direction="up"/);
  assert.match(text, /^wanbraid_speedtest_path_bytes_per_second\{entry="e",path="wan2",direction="up"\} 1000000$/m);
  assert.match(text, /^wanbraid_speedtest_striped_bytes_per_second\{entry="e",direction="down"\} 4500000$/m);
  assert.match(text, /^wanbraid_speedtest_striped_share_ratio\{entry="e",direction="down"\} 1$/m);
  assert.match(text, /^wanbraid_speedtest_timestamp_seconds\{entry="e"\} 1796688000$/m);
});
