import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRate, resolveRate, resolveRates, parseRateList, formatRate, formatLinkRate, tbfParams, tbfLine, TBF_MIN_BURST_BYTES } from '../../../src/lab/rate.js';

test('rates in tc units become bit/s', () => {
  assert.equal(parseRate('40mbit'), 40e6);
  assert.equal(parseRate('1.5gbit'), 1.5e9);
  assert.equal(parseRate('512kbit'), 512e3);
  assert.equal(parseRate('10mbps'), 80e6);
  assert.equal(parseRate('8MBit'), 8e6);
  assert.equal(parseRate(2_000_000), 2e6);
});

test('unreadable or absurd rates are refused with what and where', () => {
  assert.throws(() => parseRate('40'), /rate: "40" is not a rate/);
  assert.throws(() => parseRate('fast'), /not a rate/);
  assert.throws(() => parseRate('1bit'), /out of range/);
  assert.throws(() => resolveRates(['40mbit', 'x'], 2), /rates\[1\]: "x" is not a rate/);
});

test('a rate spec: one rate both ways, down/up, unlimited', () => {
  assert.deepEqual(resolveRate('8mbit'), { down: 8e6, up: 8e6 });
  assert.deepEqual(resolveRate({ down: '100mbit', up: '10mbit' }), { down: 100e6, up: 10e6 });
  assert.deepEqual(resolveRate(undefined), { down: null, up: null });
  assert.deepEqual(resolveRate('unlimited'), { down: null, up: null });
  assert.deepEqual(resolveRates(['1mbit'], 3), [{ down: 1e6, up: 1e6 }, { down: null, up: null }, { down: null, up: null }]);
});

test('the CLI list form', () => {
  assert.deepEqual(parseRateList('40mbit,40mbit,8mbit'), ['40mbit', '40mbit', '8mbit']);
  assert.deepEqual(parseRateList('100mbit/10mbit, -'), [{ down: '100mbit', up: '10mbit' }, '-']);
  assert.deepEqual(resolveRates(parseRateList('100mbit/10mbit,-'), 2), [{ down: 100e6, up: 10e6 }, { down: null, up: null }]);
  assert.throws(() => parseRateList('1mbit,,2mbit'), /entry 2 is empty/);
  assert.throws(() => parseRateList('1/2/3'), /more than one/);
});

test('formatting', () => {
  assert.equal(formatRate(40e6), '40mbit');
  assert.equal(formatRate(1e9), '1gbit');
  assert.equal(formatRate(1.5e6), '1500kbit');
  assert.equal(formatRate(1_234_567), '1.235mbit');
  assert.equal(formatRate(null), 'unlimited');
  assert.equal(formatLinkRate({ down: 8e6, up: 2e6 }), '8mbit/2mbit');
  assert.equal(formatLinkRate({ down: 8e6, up: 8e6 }), '8mbit');
});

test('tbf: the bucket holds at least 1 ms of traffic and never less than 32 KiB; unlimited has no qdisc', () => {
  assert.deepEqual(tbfParams(8e6), { rate: 8e6, burst: TBF_MIN_BURST_BYTES, latency: 20 });
  assert.equal(tbfParams(1e9).burst, 125_000);
  assert.equal(tbfLine('router', 40e6), 'qdisc replace dev router root tbf rate 40000000bit burst 32768 latency 20ms');
  assert.equal(tbfLine('router', null), undefined);
});
