import { test } from 'node:test';
import assert from 'node:assert/strict';
import { History, MAX_EVENT_BYTES, Timeline, rateBps, type LinkInput } from '../../../src/web/history.js';

const link = (name: string, iface: string, over: Partial<LinkInput> = {}): LinkInput => ({
  name,
  interface: iface,
  state: 'online',
  reason: 'ok',
  weight: 1,
  rttMs: 10.26,
  lossPct: 0,
  jitterMs: undefined,
  ...over,
});
const ctr = (entries: [string, number, number][]) => new Map(entries.map(([n, rx, tx]) => [n, { rxBytes: rx, txBytes: tx }]));

test('rateBps: bits per second from two readings; null without an honest figure', () => {
  assert.equal(rateBps(0, 125_000, 1000), 1_000_000);
  assert.equal(rateBps(1000, 1000, 500), 0);
  assert.equal(rateBps(1000, 1250, 2000), 1000);
  assert.equal(rateBps(undefined, 5, 1000), null);
  assert.equal(rateBps(5, undefined, 1000), null);
  assert.equal(rateBps(10, 5, 1000), null, 'counter went down');
  assert.equal(rateBps(1, 5, 0), null);
});

test('history: the first tick has no rate, then rates per interface; figures rounded, absent ones null', () => {
  const h = new History(10);
  const s0 = h.observe(1000, [link('wan1', 'eth1'), link('wan2', 'eth2')], ctr([['eth1', 0, 0], ['eth2', 100, 100]]));
  assert.deepEqual(s0.links.wan1, { state: 'online', reason: 'ok', weight: 1, rttMs: 10.3, lossPct: 0, jitterMs: null, inBps: null, outBps: null });
  const s1 = h.observe(2000, [link('wan1', 'eth1'), link('wan2', 'eth2')], ctr([['eth1', 125_000, 12_500], ['eth2', 100, 100]]));
  assert.equal(s1.links.wan1!.inBps, 1_000_000);
  assert.equal(s1.links.wan1!.outBps, 100_000);
  assert.equal(s1.links.wan2!.inBps, 0);
  assert.deepEqual(h.samples().map((s) => s.t), [1000, 2000]);
});

test('history: a reset counter, a missing interface or a changed interface gives null, not a wrong rate', () => {
  const h = new History(10);
  h.observe(0, [link('wan1', 'eth1')], ctr([['eth1', 5000, 5000]]));
  assert.equal(h.observe(1000, [link('wan1', 'eth1')], ctr([['eth1', 10, 10]])).links.wan1!.inBps, null, 'recreated interface');
  assert.equal(h.observe(2000, [link('wan1', 'eth1')], ctr([['eth1', 135, 10]])).links.wan1!.inBps, 1000, 'counts again from the new value');
  assert.equal(h.observe(3000, [link('wan1', 'eth1')], new Map()).links.wan1!.inBps, null, 'interface gone');
  h.observe(4000, [link('wan1', 'eth1')], ctr([['eth1', 200, 10], ['eth9', 0, 0]]));
  assert.equal(h.observe(5000, [link('wan1', 'eth9')], ctr([['eth1', 300, 10], ['eth9', 125, 0]])).links.wan1!.inBps, null, 'the link moved to another interface');
});

test('history: bounded by its capacity; links removed on reload are forgotten', () => {
  const h = new History(5);
  for (let i = 0; i < 50; i++) h.observe(i * 1000, [link('wan1', 'eth1')], ctr([['eth1', i * 1000, 0]]));
  assert.equal(h.samples().length, 5);
  assert.deepEqual(h.samples().map((s) => s.t), [45_000, 46_000, 47_000, 48_000, 49_000]);
  const s = h.observe(50_000, [link('wan2', 'eth2')], ctr([['eth2', 0, 0]]));
  assert.deepEqual(Object.keys(s.links), ['wan2']);
  // wan1 comes back: no rate from its reading of long ago.
  assert.equal(h.observe(51_000, [link('wan1', 'eth1')], ctr([['eth1', 99_000, 0]])).links.wan1!.inBps, null);
});

test('timeline: sequence numbers, bounded, oversized bodies cut, last plan kept past the ring', () => {
  const tl = new Timeline(3);
  const at = new Date('2026-01-01T00:00:00Z');
  const p = tl.push('plan', { ok: true, durationMs: 3 }, at);
  assert.deepEqual(p, { ok: true, durationMs: 3, seq: 1, event: 'plan', time: '2026-01-01T00:00:00.000Z' });
  for (let i = 0; i < 5; i++) tl.push('link', { link: `wan${i}` }, at);
  assert.deepEqual(tl.events().map((e) => e.seq), [4, 5, 6]);
  assert.equal(tl.lastPlan()?.seq, 1);
  const big = tl.push('error', { message: 'x'.repeat(100_000) }, at);
  assert.equal(big.truncated, true);
  assert.ok(JSON.stringify(big).length <= MAX_EVENT_BYTES + 200);
  assert.equal(big.event, 'error');
  // A body cannot overwrite the server's own fields.
  const e = tl.push('link', { seq: 999, event: 'forged', time: 'then' }, at);
  assert.equal(e.seq, 8);
  assert.equal(e.event, 'link');
  assert.equal(e.time, '2026-01-01T00:00:00.000Z');
});
