import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shapeDifference, tableShape } from '../../../../src/kernel/nft/shape.js';
import type { NftObject } from '../../../../src/kernel/nft/json.js';

// What `nft -j list table inet wanbraid` reports, trimmed to a few objects of each kind.
const listing = (): NftObject[] => [
  { table: { family: 'inet', name: 'wanbraid', handle: 4 } },
  { chain: { family: 'inet', table: 'wanbraid', name: 'forward', handle: 1, type: 'filter', hook: 'forward', prio: -150, policy: 'accept' } },
  { counter: { family: 'inet', table: 'wanbraid', name: 'new_wan1', handle: 2, packets: 10, bytes: 600 } },
  { set: { family: 'inet', table: 'wanbraid', name: 'lan_if', handle: 3, type: 'ifname', elem: ['lan0'] } },
  { map: { family: 'inet', table: 'wanbraid', name: 'pick_v4', handle: 5, type: 'mark', map: 'mark', elem: [[0, 65536]] } },
  { rule: { family: 'inet', table: 'wanbraid', chain: 'forward', handle: 6, expr: [{ counter: { packets: 3, bytes: 180 } }, { counter: 'new_wan1' }, { accept: null }] } },
  { rule: { family: 'inet', table: 'wanbraid', chain: 'forward', handle: 7, expr: [{ drop: null }] } },
];
const dyn = new Set(['pick_v4']);

test('shape: handles, counter values and dynamic elements are not part of it; key order neither', () => {
  const a = tableShape(listing(), dyn);
  const b = listing().map((o) => {
    if ('counter' in o) return { counter: { ...o.counter, packets: 99, bytes: 9999, handle: 40 } };
    if ('map' in o) return { map: { ...o.map, elem: [] } };
    if ('rule' in o) {
      // Anonymous counters count; the rule comes back with another handle and its keys in another order.
      const expr = o.rule.expr.map((x) => (typeof x === 'object' && x !== null && 'counter' in x && typeof x.counter === 'object' ? { counter: { packets: 1, bytes: 2 } } : x));
      return { rule: { handle: (o.rule.handle ?? 0) + 100, expr, chain: o.rule.chain, table: o.rule.table, family: o.rule.family } };
    }
    return o;
  });
  assert.equal(tableShape(b, dyn), a);
  assert.equal(shapeDifference(a, tableShape(b, dyn)), undefined);
});

test('shape: a flushed chain, a changed rule, a changed policy, a static element or a removed set is a difference, and says where', () => {
  const a = tableShape(listing(), dyn);
  const flushed = listing().filter((o) => !('rule' in o));
  assert.equal(shapeDifference(a, tableShape(flushed, dyn)), 'object 6: expected rule in chain forward, found nothing');
  const changed = listing().map((o) => ('rule' in o && o.rule.handle === 7 ? { rule: { ...o.rule, expr: [{ accept: null }] } } : o));
  assert.equal(shapeDifference(a, tableShape(changed, dyn)), 'object 7: expected rule in chain forward, found rule in chain forward');
  const policy = listing().map((o) => ('chain' in o ? { chain: { ...o.chain, policy: 'drop' as const } } : o));
  assert.match(shapeDifference(a, tableShape(policy, dyn))!, /^object 2: expected chain forward/);
  const staticElem = listing().map((o) => ('set' in o ? { set: { ...o.set, elem: ['lan1'] } } : o));
  assert.match(shapeDifference(a, tableShape(staticElem, dyn))!, /^object 4: expected set lan_if/);
  const noSet = listing().filter((o) => !('set' in o));
  assert.match(shapeDifference(a, tableShape(noSet, dyn))!, /^object 4: expected set lan_if, found map pick_v4/);
  // Positive control: without naming pick_v4 dynamic, its elements count.
  const moved = listing().map((o) => ('map' in o ? { map: { ...o.map, elem: [] } } : o));
  assert.notEqual(tableShape(moved, new Set()), tableShape(listing(), new Set()));
});
