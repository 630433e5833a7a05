import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROFILES, PROFILE_NAMES, profile, parseProfileList, combineProfiles } from '../../../src/lab/profiles.js';
import { resolveDelay } from '../../../src/lab/delay.js';
import { resolveRate } from '../../../src/lab/rate.js';
import { checkLossPct } from '../../../src/lab/faults.js';

test('every profile is valid for the lab: its rate, delay and loss resolve unchanged', () => {
  assert.deepEqual(PROFILE_NAMES, ['fibre', 'dsl', 'lte', 'geo-satellite']);
  for (const p of Object.values(PROFILES)) {
    assert.doesNotThrow(() => resolveRate(p.rate, p.name));
    assert.deepEqual(resolveDelay(p.delay, p.name), p.delay, p.name);
    assert.equal(checkLossPct(p.lossPct), p.lossPct);
    assert.ok(p.summary.length > 10);
  }
});

test('profiles carry the figures docs/lab.md states', () => {
  const rtt = (n: keyof typeof PROFILES) => PROFILES[n].delay.down!.delayMs + PROFILES[n].delay.up!.delayMs;
  assert.equal(rtt('fibre'), 10);
  assert.equal(rtt('dsl'), 24);
  assert.equal(rtt('lte'), 60);
  assert.equal(PROFILES.lte.delay.down!.jitterMs + PROFILES.lte.delay.up!.jitterMs, 20, 'LTE RTT spans 40-80 ms');
  assert.equal(PROFILES.lte.delay.down!.stallMs, 200);
  assert.equal(PROFILES.lte.lossPct, 2);
  assert.ok(rtt('geo-satellite') >= 477, 'no faster than light to a geostationary satellite and back, twice');
  assert.deepEqual(resolveRate(PROFILES.dsl.rate), { down: 16e6, up: 1e6 });
});

test('names: known ones, - for none, unknown refused with the list', () => {
  assert.equal(profile('lte').name, 'lte');
  assert.deepEqual(parseProfileList('lte,-,fibre'), ['lte', null, 'fibre']);
  assert.throws(() => parseProfileList('lte,cable'), /--profiles entry 2: unknown profile "cable" \(profiles: fibre, dsl, lte, geo-satellite\)/);
  assert.throws(() => parseProfileList('lte,'), /--profiles: entry 2 is empty/);
});

test('combining: a profile supplies rate, delay and loss; an explicit entry for the link replaces that part', () => {
  const c = combineProfiles(3, ['dsl', null], undefined, ['-', '5ms']);
  assert.deepEqual(c[0], { profile: 'dsl', rate: PROFILES.dsl.rate, delay: '-', lossPct: 0 }, 'an explicit "-" means no delay');
  assert.deepEqual(c[1], { profile: null, rate: undefined, delay: '5ms', lossPct: 0 });
  assert.deepEqual(c[2], { profile: null, rate: undefined, delay: undefined, lossPct: 0 });
  assert.deepEqual(combineProfiles(2, ['lte', 'lte'], ['40mbit', '40mbit'], undefined).map((x) => [x.rate, x.delay, x.lossPct]), [
    ['40mbit', PROFILES.lte.delay, 2],
    ['40mbit', PROFILES.lte.delay, 2],
  ]);
  assert.throws(() => combineProfiles(1, ['lte', 'dsl'], undefined, undefined), /profiles: 2 profiles given for 1 link/);
  assert.equal(combineProfiles(1, ['lte'], undefined, undefined)[0]!.lossPct, 2);
});
