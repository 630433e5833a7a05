/** The page's pure helpers (web/model.js), run under node. */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type * as ModelModule from '../../../web/model.js';

type Model = typeof ModelModule;
const m = (await import(new URL('../../../../web/model.js', import.meta.url).href)) as Model;

test('page model: formatting', () => {
  assert.equal(m.fmtRate(null), '–');
  assert.equal(m.fmtRate(512), '512 bit/s');
  assert.equal(m.fmtRate(1500), '1.50 kbit/s');
  assert.equal(m.fmtRate(12_345_678), '12.3 Mbit/s');
  assert.equal(m.fmtRate(2_500_000_000), '2.50 Gbit/s');
  assert.equal(m.fmtMs(4.26), '4.3 ms');
  assert.equal(m.fmtMs(123.4), '123 ms');
  assert.equal(m.fmtMs(undefined), '–');
  assert.equal(m.fmtPct(100), '100 %');
  assert.equal(m.fmtShare(0.1234), '12.3 %');
  assert.equal(m.fmtShare(undefined), '–');
});

test('page model: the 10-minute window, columns and the stacked sums in Mbit/s', () => {
  const s = (t: number, a: number | null, b: number | null) => ({ t, links: { wan1: { inBps: a }, wan2: { inBps: b } } });
  const samples = [s(0, 1e6, 2e6), s(1000, null, 3e6), s(2000, null, null), s(700_000, 4e6, 0)];
  assert.deepEqual(m.inWindow(samples, 700_000).map((x) => x.t), [700_000]);
  assert.deepEqual(m.inWindow(samples, 601_000).map((x) => x.t), [1000, 2000, 700_000]);
  const cols = [m.column(samples, 'wan1', 'inBps'), m.column(samples, 'wan2', 'inBps')];
  assert.deepEqual(cols[0], [1e6, null, null, 4e6]);
  assert.deepEqual(m.column(samples, 'wan9', 'inBps'), [null, null, null, null]);
  assert.deepEqual(m.stack(cols), [
    [1, null, null, 4],
    [3, 3, null, 4],
  ]);
});

test('page model: events in words, marks in the window', () => {
  assert.deepEqual(m.describeEvent({ event: 'link', link: 'wan1', prev: 'online', state: 'offline', reason: '3 probe rounds failed' }), {
    kind: 'link',
    text: 'wan1: online → offline (3 probe rounds failed)',
    bad: true,
  });
  assert.deepEqual(m.describeEvent({ event: 'plan', ok: true, durationMs: 12.5, why: 'link wan1', failures: [] }), { kind: 'plan', text: 'applied in 12.5 ms (link wan1)', bad: false });
  assert.equal(m.describeEvent({ event: 'reload', ok: false, issues: ['links[0].weight: bad'] }).text, 'reload refused: links[0].weight: bad');
  assert.equal(m.describeEvent({ event: 'error', source: 'balancer', message: 'nft failed' }).bad, true);
  assert.equal(m.describeEvent({ event: 'other', seq: 3, time: 'x', a: 1 }).text, '{"a":1}');
  const ev = [
    { event: 'link', time: '1970-01-01T00:00:10Z', link: 'wan1', state: 'probing' },
    { event: 'link', time: '1970-01-01T00:00:20Z', link: 'wan1', state: 'online' },
    { event: 'plan', time: '1970-01-01T00:00:21Z' },
    { event: 'link', time: '1970-01-01T00:00:30Z', link: 'wan2', state: 'offline' },
    { event: 'reload', time: '1970-01-01T00:00:31Z' },
    { event: 'link', time: '1970-01-01T00:00:01Z', link: 'wan3', state: 'offline' },
  ];
  assert.deepEqual(m.marks(ev, 5), [
    { t: 20, kind: 'online', label: 'wan1' },
    { t: 21, kind: 'plan', label: '' },
    { t: 30, kind: 'offline', label: 'wan2' },
  ]);
});
