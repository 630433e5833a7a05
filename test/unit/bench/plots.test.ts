/** The benchmark figures: data taken from the results as recorded (nothing invented), missing series named, SVG rendered the same every time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutPathRows, cutRows, detectionRows, failoverRows, figures, rates, relayThroughputRows } from '../../../bench/plots/figures.js';
import { renderSvg } from '../../../bench/plots/render.js';

const RELAY = {
  relay: {
    data: {
      equal: { medianBps: { download: { download: { relay: 76e6, mptcp: 73e6, single: 38e6 } }, both: { upload: { relay: 71e6, mptcp: 45e6 } } } },
      'cut-blackhole': {
        cutAtMs: 200,
        restoreAtMs: 400,
        ticks: [[0, 0], [100, 1_000_000], [200, 2_000_000], [300, 2_000_000]],
        pathTicks: [[0, { path1: 0, path2: 0 }], [100, { path1: 500_000, path2: 500_000 }], [200, { path1: 1_000_000 }], [300, { path1: 1_500_000, path2: 100_000 }]],
      },
    },
  },
  health: { data: { blackhole: { samples: [{ detectMs: 1300 }, { detectMs: 1400 }] }, carrier: { samples: [{ detectMs: 4 }] } } },
  'daemon-failover': {
    data: {
      blackhole: { samples: { detect: [1350.5] } },
      carrier: { samples: { detect: [12.8, 'x'] } },
      throughput: { faultAtMs: 100, offlineAtMs: 150, clearAtMs: 200, ticks: [[0, { wan1: 0, wan2: 0 }], [100, { wan1: 250_000, wan2: 250_000 }], [200, { wan1: 250_000, wan2: 750_000 }]] },
    },
  },
};

test('relay vs MPTCP vs single link: one row per recorded median, in Mbit/s; nothing for a missing one', () => {
  assert.deepEqual(relayThroughputRows(RELAY), [
    { case: '2 × 40 Mbit/s', direction: 'download', method: 'relay', mbps: 76 },
    { case: '2 × 40 Mbit/s', direction: 'download', method: 'MPTCP', mbps: 73 },
    { case: '2 × 40 Mbit/s', direction: 'download', method: 'best single link', mbps: 38 },
    { case: '2 × 40 Mbit/s', direction: 'both: upload', method: 'relay', mbps: 71 },
    { case: '2 × 40 Mbit/s', direction: 'both: upload', method: 'MPTCP', mbps: 45 },
  ]);
  assert.deepEqual(relayThroughputRows({}), []);
});

test('detection times: every trial of every source, values that are not numbers skipped', () => {
  assert.deepEqual(detectionRows(RELAY), [
    { fault: 'blackhole', source: 'health (probes)', ms: 1300 },
    { fault: 'blackhole', source: 'health (probes)', ms: 1400 },
    { fault: 'carrier', source: 'health (probes)', ms: 4 },
    { fault: 'blackhole', source: 'whole daemon', ms: 1350.5 },
    { fault: 'carrier', source: 'whole daemon', ms: 12.8 },
  ]);
});

test('rates from cumulative counters: bytes per step over its time; a counter that restarts counts from 0', () => {
  assert.deepEqual(rates([[0, 0], [100, 125_000], [200, 125_000], [300, 50_000]]), [
    { ms: 100, mbps: 10 },
    { ms: 200, mbps: 0 },
    { ms: 300, mbps: 4 },
  ]);
  const cut = cutRows(RELAY);
  assert.deepEqual(cut.rows.map((r) => r.mbps), [80, 80, 0]);
  assert.deepEqual(cut.marks, [{ case: 'blackhole', ms: 200, what: 'cut' }, { case: 'blackhole', ms: 400, what: 'restored' }]);
  const paths = cutPathRows(RELAY);
  assert.deepEqual(paths.filter((r) => r.path === 'path2').map((r) => r.mbps), [40, 0, 8], 'path2 absent while cut, then a new connection from 0');
});

test('throughput through a failover: each link\'s rate per step, and the fault, offline and clear marks', () => {
  const f = failoverRows(RELAY);
  assert.deepEqual(f.rows, [
    { link: 'wan1', ms: 100, mbps: 20 },
    { link: 'wan1', ms: 200, mbps: 0 },
    { link: 'wan2', ms: 100, mbps: 20 },
    { link: 'wan2', ms: 200, mbps: 40 },
  ]);
  assert.deepEqual(f.marks, [{ ms: 100, what: 'blackhole', py: 8 }, { ms: 150, what: 'offline (daemon)', py: 22 }, { ms: 200, what: 'cleared', py: 8 }]);
  assert.deepEqual(failoverRows({}), { rows: [], marks: [] });
});

test('figures: drawn when their series exist, named as missing otherwise; the SVG is the same on every render', async () => {
  const all = figures(RELAY);
  assert.deepEqual(all.figures.map((f) => f.name), ['relay-throughput', 'detection-times', 'relay-cut', 'relay-cut-paths', 'failover-per-link']);
  assert.deepEqual(all.missing, []);
  const none = figures({});
  assert.deepEqual(none.figures, []);
  assert.match(none.missing.find((m) => m.name === 'relay-cut-paths')!.missing, /no pathTicks/);
  assert.match(none.missing.find((m) => m.name === 'failover-per-link')!.missing, /no throughput part/);
  const a = await renderSvg(all.figures[0]!.spec);
  const b = await renderSvg(all.figures[0]!.spec);
  assert.equal(a, b);
  assert.match(a, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(a.includes('best single link'), 'the legend is in the SVG');
});
