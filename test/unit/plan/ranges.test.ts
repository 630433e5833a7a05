import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_LINKS,
  NEXTHOP_ID_BASE,
  NEXTHOP_ID_SLOTS,
  RULE_DEFAULT,
  RULE_LINK_LAST,
  RULE_MARK_MAIN,
  RULE_SLOTS,
  RULE_SUPPRESS_MAIN,
  defaultTable,
  depositBits,
  extractBits,
  isReservedNexthopId,
  linkNexthopId,
  linkRulePriority,
  linkTable,
  markLayout,
  maxMarkValue,
  nexthopGroupId,
  reservedTables,
} from '../../../src/plan/ranges.js';

test('rule priority slots never overlap and stay inside the reserved range', () => {
  const base = 20100;
  const used = new Map<number, string>();
  const claim = (p: number, what: string) => {
    assert.ok(p >= base && p < base + RULE_SLOTS, `${what} at ${p} is outside the range`);
    assert.ok(!used.has(p), `${what} collides with ${used.get(p)} at ${p}`);
    used.set(p, what);
  };
  claim(base + RULE_SUPPRESS_MAIN, 'suppress');
  claim(base + RULE_MARK_MAIN, 'mark main');
  for (let i = 1; i <= MAX_LINKS; i++) claim(linkRulePriority(base, i), `link ${i}`);
  claim(base + RULE_DEFAULT, 'default');
  assert.ok(RULE_LINK_LAST < RULE_DEFAULT);
  assert.throws(() => linkRulePriority(base, MAX_LINKS + 1), RangeError);
  assert.throws(() => linkRulePriority(base, 0), RangeError);
});

test('nexthop ids: one per link and family and one group per family, all distinct and reserved', () => {
  const ids = new Set<number>();
  for (const f of [4, 6] as const) {
    ids.add(nexthopGroupId(f));
    for (let i = 1; i <= MAX_LINKS; i++) ids.add(linkNexthopId(i, f));
  }
  assert.equal(ids.size, 2 + 2 * MAX_LINKS);
  for (const id of ids) assert.ok(isReservedNexthopId(id), `${id} reserved`);
  assert.ok(!isReservedNexthopId(NEXTHOP_ID_BASE - 1) && !isReservedNexthopId(NEXTHOP_ID_BASE + NEXTHOP_ID_SLOTS));
});

test('tables: default and per-link ids are distinct and inside the reserved table range', () => {
  const base = 20100;
  const r = reservedTables(base);
  const t = new Set([defaultTable(base)]);
  for (let i = 1; i <= MAX_LINKS; i++) t.add(linkTable(base, i));
  assert.equal(t.size, MAX_LINKS + 1);
  for (const x of t) assert.ok(x >= r.first && x <= r.last);
  assert.equal(linkTable(base, 3, 500), 500, 'a configured table wins');
});

test('depositBits spreads a value into the mask bits and extractBits reads it back', () => {
  assert.equal(depositBits(3, 0x00ff0000), 0x00030000);
  assert.equal(depositBits(0xff, 0x00ff0000), 0x00ff0000);
  // A non-contiguous mask: bits 4 and 8..9.
  const mask = 0x310;
  assert.equal(maxMarkValue(mask), 7);
  assert.equal(depositBits(1, mask), 0x010);
  assert.equal(depositBits(2, mask), 0x100);
  assert.equal(depositBits(7, mask), 0x310);
  for (let v = 0; v <= 7; v++) assert.equal(extractBits(depositBits(v, mask), mask), v);
  assert.equal(depositBits(1, 0x80000000), 0x80000000, 'the top bit stays unsigned');
  assert.throws(() => depositBits(8, mask), RangeError);
});

test('mark layout: links, relay entries and main never share a value, and all stay inside the mask', () => {
  for (const mask of [0x00ff0000, 0xff, 0x7f000000, 0x310 | 0xc00]) {
    const max = maxMarkValue(mask);
    for (let relays = 0; relays <= 3; relays++) {
      const layout = markLayout(mask, relays);
      const seen = new Set<number>([0]);
      const put = (v: number) => {
        assert.equal(v & ~mask, 0, 'inside the mask');
        assert.ok(!seen.has(v), `value 0x${v.toString(16)} used twice`);
        seen.add(v);
      };
      put(layout.main);
      for (let k = 0; k < relays; k++) put(layout.relay(k));
      const links = Math.min(MAX_LINKS, max - 1 - relays);
      for (let i = 1; i <= links; i++) put(layout.link(i));
      if (links < MAX_LINKS) assert.throws(() => layout.link(links + 1), RangeError);
    }
  }
  assert.throws(() => markLayout(0x1), RangeError);
});
