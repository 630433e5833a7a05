import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../../src/plan/planner.js';
import { nexthopGroupId, linkNexthopId } from '../../../src/plan/ranges.js';
import { nftNames } from '../../../src/plan/ruleset.js';
import type { DesiredState, PolicyChoice } from '../../../src/plan/types.js';
import type { NftMapElem } from '../../../src/kernel/nft/json.js';
import { config, threeLinks, view, views } from './fixtures.js';

const choice = (d: DesiredState, policy: string, family: 4 | 6): PolicyChoice => d.policies.find((p) => p.name === policy)!.choices.find((c) => c.family === family)!;
const members = (c: PolicyChoice) => c.members.map((m) => `${m.link}:${m.weight}`);
const pick = (d: DesiredState, policy: string, family: 4 | 6): NftMapElem[] => d.nft.maps.find((m) => m.name === nftNames.pickMap(policy, family))!.elements;
const chain = (d: DesiredState, name: string) => d.nft.chains.find((c) => c.name === name);

const TIERED = {
  policies: {
    tiered: {
      links: [
        { link: 'wan1', tier: 1 },
        { link: 'wan2', tier: 1, weight: 9 },
        { link: 'wan3', tier: 2 },
      ],
    },
  },
  routing: { defaultPolicy: 'tiered' },
};

test('the best tier with an up link wins, at its weights (policy weight overrides the link weight)', () => {
  const c = threeLinks(TIERED);
  const d = plan(c, views(c));
  assert.deepEqual(members(choice(d, 'tiered', 4)), ['wan1:5', 'wan2:9']);
  assert.equal(choice(d, 'tiered', 4).tier, 1);
  assert.deepEqual(pick(d, 'tiered', 4), [
    [{ range: [0, 356] }, { goto: { target: 'mark_wan1' } }],
    [{ range: [357, 999] }, { goto: { target: 'mark_wan2' } }],
  ]);
});

test('when the whole best tier is down the next tier takes over; with nothing up lastResort applies', () => {
  const c = threeLinks(TIERED);
  const d = plan(c, views(c, { wan1: { state: 'offline' }, wan2: { state: 'probing' } }));
  assert.equal(choice(d, 'tiered', 4).tier, 2);
  assert.deepEqual(members(choice(d, 'tiered', 4)), ['wan3:2']);
  const group = d.nexthops.find((n) => n.kind === 'group' && n.family === 4);
  assert.deepEqual(group && group.kind === 'group' ? group.members : undefined, [{ id: linkNexthopId(3, 4), weight: 1 }]);

  const none = plan(c, views(c, { wan1: { state: 'offline' }, wan2: { state: 'offline' }, wan3: { state: 'disabled' } }));
  assert.equal(choice(none, 'tiered', 4).tier, undefined);
  assert.deepEqual(pick(none, 'tiered', 4), []);
  assert.equal(none.nexthops.filter((n) => n.kind === 'group').length, 0, 'no empty group');
  const dflt = none.routes.filter((r) => r.table === 20100 && r.family === 4);
  assert.deepEqual(dflt.map((r) => r.type), ['unreachable']);
  // The per-link tables stay: probes leave through them.
  assert.ok(none.routes.some((r) => r.table === 20101 && r.dst.len === 0 && r.gateway === '198.18.1.254'));
  // The policy chain ends with the lastResort verdict.
  const rules = chain(none, nftNames.policyChain('tiered'))!.rules;
  assert.deepEqual(rules[rules.length - 1]!.expr, [{ reject: { type: 'icmpx', expr: 'no-route' } }]);
});

test('lastResort blackhole and main', () => {
  for (const lr of ['blackhole', 'main'] as const) {
    const c = threeLinks({ routing: { lastResort: lr } });
    const d = plan(c, views(c, { wan1: { state: 'offline' }, wan2: { state: 'offline' }, wan3: { state: 'offline' } }));
    const dflt = d.routes.filter((r) => r.table === 20100);
    if (lr === 'blackhole') assert.deepEqual(dflt.map((r) => `${r.family}:${r.type}`), ['4:blackhole', '6:blackhole']);
    else assert.deepEqual(dflt, [], 'main: nothing in the default table, the lookup falls through to main');
    const rules = chain(d, nftNames.policyChain('_all'))!.rules;
    assert.deepEqual(rules[rules.length - 1]!.expr, lr === 'blackhole' ? [{ drop: null }] : [{ goto: { target: 'mark_main' } }]);
  }
  // A policy's own lastResort overrides routing.lastResort.
  const c = threeLinks({ policies: { p: { links: ['wan1'], lastResort: 'main' } } });
  const d = plan(c, views(c, { wan1: { state: 'offline' } }));
  assert.equal(choice(d, 'p', 4).lastResort, 'main');
  assert.equal(choice(d, '_all', 4).lastResort, 'unreachable');
});

test('weight 0 links carry flows only when nothing else is up', () => {
  const c = config({
    lan: { interfaces: ['lan0'] },
    links: [
      { name: 'wan1', interface: 'wan1', weight: 1 },
      { name: 'backup', interface: 'backup', weight: 0 },
    ],
  });
  const both = plan(c, [view('wan1', 1, 1), view('backup', 2, 0)]);
  assert.deepEqual(members(choice(both, '_all', 4)), ['wan1:1']);
  const fallback = plan(c, [view('wan1', 1, 1, { state: 'offline' }), view('backup', 2, 0)]);
  assert.equal(choice(fallback, '_all', 4).tier, 0);
  assert.deepEqual(members(choice(fallback, '_all', 4)), ['backup:1']);
  const nothing = plan(c, [view('wan1', 1, 1, { state: 'offline' }), view('backup', 2, 0, { state: 'offline' })]);
  assert.deepEqual(members(choice(nothing, '_all', 4)), []);
});

test('degraded links run at the weight in effect; a policy weight follows it proportionally', () => {
  const c = threeLinks({ policies: { p: { links: [{ link: 'wan1', weight: 10 }, 'wan2'] } } });
  const d = plan(c, views(c, { wan1: { state: 'degraded', weight: 1 }, wan2: { state: 'degraded', weight: 1 } }));
  assert.deepEqual(members(choice(d, 'p', 4)), ['wan1:2', 'wan2:1']);
  assert.deepEqual(members(choice(d, '_all', 4)), ['wan1:1', 'wan2:1', 'wan3:2']);
  // Degraded with action remove (weight 0 in effect) leaves the balancing.
  const removed = plan(c, views(c, { wan1: { state: 'degraded', weight: 0 } }));
  assert.deepEqual(members(choice(removed, 'p', 4)), ['wan2:3']);
});

test('routes, rules and nexthops for a gateway link, a point-to-point link and an IPv4-only link', () => {
  const c = threeLinks();
  const d = plan(c, [view('wan1', 1, 5), view('wan2', 2, 3, { p2p: true }), view('wan3', 3, 2, { v6: false })]);
  const t = (table: number, f: 4 | 6) => d.routes.filter((r) => r.table === table && r.family === f);
  assert.deepEqual(
    t(20101, 4).map((r) => [r.dst.address, r.dst.len, r.gateway, r.dev?.name, r.scope, r.prefsrc, r.protocol]),
    [
      ['198.18.1.0', 24, undefined, 'wan1', 'link', '198.18.1.1', 87],
      ['0.0.0.0', 0, '198.18.1.254', 'wan1', 'universe', '198.18.1.1', 87],
    ],
  );
  assert.deepEqual(
    t(20102, 4).map((r) => [r.dst.len, r.gateway, r.dev?.name, r.scope]),
    [[0, undefined, 'wan2', 'link']],
    'point-to-point: on-link default, no connected route',
  );
  assert.deepEqual(t(20103, 6), [], 'no IPv6 on wan3');
  assert.deepEqual(
    t(20101, 6).map((r) => [r.dst.address, r.dst.len, r.gateway, r.scope]),
    [
      ['2001:db8:1::', 64, undefined, 'universe'],
      ['::', 0, 'fe80::1', 'universe'],
    ],
  );
  // Rules: suppress, main mark, per link (fwmark always, from when addressed), default.
  const r4 = d.rules.filter((r) => r.family === 4).map((r) => [r.priority, r.table, r.src?.address, r.fwmark?.value, r.suppressPrefixLength]);
  assert.deepEqual(r4, [
    [20100, 254, undefined, undefined, 0],
    [20101, 254, undefined, 0xff0000, undefined],
    [20102, 20101, undefined, 0x10000, undefined],
    [20102, 20101, '198.18.1.1', undefined, undefined],
    [20103, 20102, undefined, 0x20000, undefined],
    [20103, 20102, '198.18.2.1', undefined, undefined],
    [20104, 20103, undefined, 0x30000, undefined],
    [20104, 20103, '198.18.3.1', undefined, undefined],
    [20200, 20100, undefined, undefined, undefined],
  ]);
  assert.ok(d.rules.every((r) => r.protocol === 87 && (r.fwmark === undefined || r.fwmark.mask === 0xff0000)));
  const r6 = d.rules.filter((r) => r.family === 6 && r.src).map((r) => r.src!.address);
  assert.deepEqual(r6, ['2001:db8:1::1', '2001:db8:2::1']);
  // Nexthops: one per link and family it carries, then the groups.
  assert.deepEqual(
    d.nexthops.map((n) => (n.kind === 'single' ? `${n.id}:${n.dev.name}:${n.gateway ?? '-'}` : `${n.id}:group:${n.members.map((m) => `${m.id}/${m.weight}`).join(',')}`)),
    [
      `${linkNexthopId(1, 4)}:wan1:198.18.1.254`,
      `${linkNexthopId(2, 4)}:wan2:-`,
      `${linkNexthopId(3, 4)}:wan3:198.18.3.254`,
      `${linkNexthopId(1, 6)}:wan1:fe80::1`,
      `${linkNexthopId(2, 6)}:wan2:-`,
      `${nexthopGroupId(4)}:group:${linkNexthopId(1, 4)}/5,${linkNexthopId(2, 4)}/3,${linkNexthopId(3, 4)}/2`,
      `${nexthopGroupId(6)}:group:${linkNexthopId(1, 6)}/5,${linkNexthopId(2, 6)}/3`,
    ],
  );
  const g = d.nexthops.find((n) => n.kind === 'group')!;
  assert.ok(g.kind === 'group' && g.type === 'resilient' && g.buckets === 128 && g.idleTimerMs === 120_000);
  assert.deepEqual(
    d.routes.filter((r) => r.table === 20100).map((r) => [r.family, r.nhid]),
    [
      [4, nexthopGroupId(4)],
      [6, nexthopGroupId(6)],
    ],
  );
  // IPv6 picks never choose the IPv4-only link.
  assert.deepEqual(members(choice(d, '_all', 6)), ['wan1:5', 'wan2:3']);
});

test('links without address, gateway, device or admin-up carry nothing in that family, but keep their fwmark rule', () => {
  const c = threeLinks();
  const d = plan(c, [view('wan1', 1, 5, { adminUp: false }), view('wan2', 2, 3, { gateway4: undefined, v6: false }), view('wan3', 3, 2, { ifindex: undefined })]);
  assert.deepEqual(d.routes.filter((r) => r.table !== 20100), []);
  assert.deepEqual(d.links.map((l) => l.families), [[], [], []]);
  assert.equal(d.rules.filter((r) => r.fwmark && r.table !== 254).length, 6);
  assert.equal(d.rules.filter((r) => r.src).length, 0);
  assert.deepEqual(members(choice(d, '_all', 4)), []);
  // A link with no view at all is probing and unobserved.
  const missing = plan(c, [view('wan1', 1, 5)]);
  assert.deepEqual(missing.links.map((l) => l.state), ['online', 'probing', 'probing']);
});

test('a link without carrier keeps its table but gets no nexthop object and no group membership', () => {
  const c = threeLinks();
  const d = plan(c, views(c, { wan2: { carrier: false } }));
  assert.deepEqual(d.nexthops.filter((n) => n.kind === 'single' && n.family === 4).map((n) => n.id), [linkNexthopId(1, 4), linkNexthopId(3, 4)]);
  const g = d.nexthops.find((n) => n.kind === 'group' && n.family === 4);
  assert.ok(g && g.kind === 'group');
  assert.deepEqual(g.members.map((m) => m.id), [linkNexthopId(1, 4), linkNexthopId(3, 4)]);
  assert.ok(d.routes.some((r) => r.table === 20102 && r.dst.len === 0));
});

test('groupType multipath (and auto without resilient support) uses one RTA_MULTIPATH route, no nexthop objects', () => {
  for (const [groupType, resilient] of [
    ['multipath', true],
    ['auto', false],
  ] as const) {
    const c = threeLinks({ routing: { groupType } });
    const d = plan(c, views(c), { resilientGroups: resilient });
    assert.deepEqual(d.nexthops, []);
    const r = d.routes.find((x) => x.table === 20100 && x.family === 4)!;
    assert.deepEqual(r.multipath, [
      { dev: { name: 'wan1', ifindex: 11 }, gateway: '198.18.1.254', weight: 5 },
      { dev: { name: 'wan2', ifindex: 12 }, gateway: '198.18.2.254', weight: 3 },
      { dev: { name: 'wan3', ifindex: 13 }, gateway: '198.18.3.254', weight: 2 },
    ]);
  }
  // Explicit resilient, buckets and idle timer are passed through.
  const c = threeLinks({ routing: { groupType: 'resilient', buckets: 64, idleTimer: '30s' } });
  const g = plan(c, views(c), { resilientGroups: false }).nexthops.find((n) => n.kind === 'group');
  assert.ok(g && g.kind === 'group' && g.buckets === 64 && g.idleTimerMs === 30_000);
});

test('nexthop weights are reduced into the kernel range 1..256', () => {
  const c = config({ links: [{ name: 'a', interface: 'a', weight: 1000 }, { name: 'b', interface: 'b', weight: 3 }, { name: 'c', interface: 'c', weight: 500 }] });
  const d = plan(c, views(c));
  const g = d.nexthops.find((n) => n.kind === 'group' && n.family === 4);
  assert.ok(g && g.kind === 'group');
  assert.deepEqual(g.members.map((m) => m.weight), [256, 1, 128]);
  const even = config({ links: [{ name: 'a', interface: 'a', weight: 600 }, { name: 'b', interface: 'b', weight: 400 }] });
  const g2 = plan(even, views(even)).nexthops.find((n) => n.kind === 'group');
  assert.ok(g2 && g2.kind === 'group');
  assert.deepEqual(g2.members.map((m) => m.weight), [3, 2]);
});

test('sticky policies hash the source (or source and destination) into fixed buckets', () => {
  const c = threeLinks({ policies: { s: { links: ['wan1', 'wan2'], sticky: 'source' }, sd: { links: ['wan1', 'wan2'], sticky: 'source-dest' } } });
  const d = plan(c, views(c));
  const s4 = chain(d, nftNames.policyChain('s'))!.rules[0]!.expr;
  assert.deepEqual(s4[0], { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } });
  const mangle = s4[1] as { mangle: { value: { jhash: { mod: number; expr: unknown } } } };
  assert.equal(mangle.mangle.value.jhash.mod, 256);
  assert.deepEqual(mangle.mangle.value.jhash.expr, { payload: { protocol: 'ip', field: 'saddr' } });
  const sd6 = chain(d, nftNames.policyChain('sd'))!.rules[1]!.expr[1] as { mangle: { value: { jhash: { expr: unknown } } } };
  assert.deepEqual(sd6.mangle.value.jhash.expr, { concat: [{ payload: { protocol: 'ip6', field: 'saddr' } }, { payload: { protocol: 'ip6', field: 'daddr' } }] });
  // The bucket map covers all 256 buckets.
  let covered = 0;
  for (const [k] of pick(d, 's', 4)) covered += typeof k === 'number' ? 1 : (k as { range: [number, number] }).range[1] - (k as { range: [number, number] }).range[0] + 1;
  assert.equal(covered, 256);
  // Health changes only elements: the structure (chains, modulus) does not depend on link state.
  const down = plan(c, views(c, { wan1: { state: 'offline' } }));
  assert.deepEqual(down.nft.chains, d.nft.chains);
  assert.notDeepEqual(pick(down, 's', 4), pick(d, 's', 4));
});

test('config rules become classify rules in order: families, protocols, ports, interfaces, prefixes and sets', () => {
  const c = threeLinks({
    lan: { interfaces: ['lan0', 'lan1'] },
    sets: { cdn: { elements: ['198.19.0.0/24', '2001:db8:ff::/48'] } },
    bypass: ['198.19.9.0/24'],
    policies: { p: { links: ['wan1'] } },
    rules: [
      { name: 'ssh', match: { proto: 'tcp', dstPort: [22, '6000-6010'], srcPort: 1024 }, policy: 'p' },
      { name: 'cdn', match: { dst: ['@cdn', '198.19.1.0/24'], iif: ['lan1'] }, policy: 'p' },
      { name: 'v4only', match: { src: '198.18.100.0/24' }, policy: 'p' },
      { name: 'six', match: { family: 'ipv6', proto: 'icmpv6' }, policy: 'p' },
    ],
  });
  const d = plan(c, views(c));
  const rules = chain(d, 'classify')!.rules;
  const describe = rules.map((r) => `${r.comment ?? ''}|${JSON.stringify(r.expr)}`);
  assert.match(describe[0]!, /"fib":\{"result":"type","flags":\["daddr"\]\}.*"local","broadcast","multicast".*"return"/);
  assert.match(describe[1]!, /"ip","field":"daddr"\}\},"right":"@bypass_v4"\}\},\{"goto":\{"target":"mark_main"\}\}/);
  assert.match(describe[2]!, /"ip6".*"@bypass_v6"/);
  const byRule = (name: string) => rules.filter((r) => r.comment === `rule ${name}`).map((r) => r.expr);
  const ssh = byRule('ssh');
  assert.equal(ssh.length, 2, 'one per family');
  assert.deepEqual(ssh[0], [
    { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } },
    { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
    { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'sport' } }, right: 1024 } },
    { match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: { set: [22, { range: [6000, 6010] }] } } },
    { goto: { target: 'pol_p' } },
  ]);
  const cdn = byRule('cdn');
  assert.equal(cdn.length, 3, 'v4: named set, v4: prefixes; v6: named set (no v6 prefixes)');
  assert.deepEqual(cdn[0]![1], { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'lan1' } });
  assert.deepEqual(cdn[0]![2], { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '@set_cdn_v4' } });
  assert.deepEqual(cdn[1]![2], { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { prefix: { addr: '198.19.1.0', len: 24 } } } });
  assert.deepEqual(cdn[2]![2], { match: { op: '==', left: { payload: { protocol: 'ip6', field: 'daddr' } }, right: '@set_cdn_v6' } });
  assert.equal(byRule('v4only').length, 1);
  assert.deepEqual(byRule('six'), [
    [
      { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv6' } },
      { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'icmpv6' } },
      { goto: { target: 'pol_p' } },
    ],
  ]);
  // Order: rules keep config order, the default policy catches the rest.
  const order = rules.map((r) => r.comment).filter(Boolean);
  assert.deepEqual([...new Set(order)], ['rule ssh', 'rule cdn', 'rule v4only', 'rule six', 'default policy']);
  assert.deepEqual(rules[rules.length - 1]!.expr, [{ goto: { target: 'pol__all' } }]);
  // Sets carry their elements per family; LAN interfaces gate classification.
  const set = (n: string) => d.nft.sets.find((s) => s.name === n)!;
  assert.deepEqual(set('set_cdn_v4').elements, [{ prefix: { addr: '198.19.0.0', len: 24 } }]);
  assert.deepEqual(set('set_cdn_v6').elements, [{ prefix: { addr: '2001:db8:ff::', len: 48 } }]);
  assert.deepEqual(set('bypass_v4').elements, [{ prefix: { addr: '198.19.9.0', len: 24 } }]);
  assert.deepEqual(set('bypass_v6').elements, []);
  const nc = chain(d, 'new_conn')!.rules;
  assert.deepEqual(nc[2]!.expr, [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: { set: ['lan0', 'lan1'] } } }, { goto: { target: 'classify' } }]);
  // Runtime set contents override the config's.
  const rt = plan(c, views(c), { sets: new Map([['cdn', [{ address: '198.19.5.0', len: 24, family: 4 as const }]]]), bypass: [] });
  assert.deepEqual(rt.nft.sets.find((s) => s.name === 'set_cdn_v4')!.elements, [{ prefix: { addr: '198.19.5.0', len: 24 } }]);
  assert.deepEqual(rt.nft.sets.find((s) => s.name === 'bypass_v4')!.elements, []);
});

test('a relay policy marks matching TCP flows for its entry and nat prerouting redirects them to the listen port', () => {
  const c = threeLinks({
    relay: {
      entries: [
        { name: 'other', listen: '198.18.100.1:7001', target: '198.19.0.10:80', exit: '198.19.0.20:7100', keyFile: '/k', paths: [{ link: 'wan1' }] },
        { name: 'stripe', listen: '0.0.0.0:7000', exit: '198.19.0.20:7100', keyFile: '/k', paths: [{ link: 'wan1' }, { link: 'wan2' }] },
      ],
    },
    policies: { big: { relay: 'stripe' } },
    rules: [{ name: 'bulk', match: { proto: 'tcp', dstPort: 5201 }, policy: 'big' }],
  });
  const d = plan(c, views(c));
  const bulk = chain(d, 'classify')!.rules.filter((r) => r.comment === 'rule bulk');
  assert.equal(bulk.length, 1, 'IPv4 only: the entry listens on 0.0.0.0');
  assert.deepEqual(bulk[0]!.expr.at(-1), { goto: { target: 'relay_stripe' } });
  // Relay entry k gets the mask's largest value minus 1 + k: entry 1 → 0xfd.
  assert.deepEqual(chain(d, 'relay_stripe')!.rules[0]!.expr[0], { mangle: { key: { meta: { key: 'mark' } }, value: 0xfd0000 } });
  assert.equal(chain(d, 'relay_other'), undefined, 'entries no policy uses get no chain');
  const nat = chain(d, 'nat_prerouting')!;
  assert.deepEqual(nat.base, { type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' });
  assert.deepEqual(nat.rules[0]!.expr, [
    { match: { op: '==', left: { '&': [{ meta: { key: 'mark' } }, 0xff0000] }, right: 0xfd0000 } },
    { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
    { redirect: { port: 7000 } },
  ]);
  assert.deepEqual(d.policies.find((p) => p.name === 'big')!.relay, { entry: 'stripe', port: 7000, quic: 'fallback' });
  assert.equal(chain(d, nftNames.policyChain('big')), undefined);
});

test('masquerade per WAN link, or snat to the configured address in its family', () => {
  const c = threeLinks();
  c.links[1]!.snat = ['198.18.2.100'];
  c.links[2]!.masquerade = false;
  const d = plan(c, views(c));
  assert.deepEqual(chain(d, 'nat_postrouting')!.rules.map((r) => r.expr), [
    [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'wan1' } }, { masquerade: null }],
    [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'wan2' } }, { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv4' } }, { snat: { family: 'ip', addr: '198.18.2.100' } }],
    [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'wan2' } }, { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: 'ipv6' } }, { masquerade: null }],
  ]);
});

test('per-link chains: pick, pin to the ct mark, count; restore and count; inbound connections take the arrival link', () => {
  const c = threeLinks();
  const d = plan(c, views(c));
  assert.deepEqual(chain(d, 'mark_wan2')!.rules.map((r) => r.expr), [
    [{ mangle: { key: { meta: { key: 'mark' } }, value: 0x20000 } }],
    [{ match: { op: '!=', left: { fib: { result: 'oifname', flags: ['daddr', 'mark'] } }, right: 'wan2' } }, { goto: { target: 'mark_main' } }],
    [{ mangle: { key: { ct: { key: 'mark' } }, value: { '|': [{ '&': [{ ct: { key: 'mark' } }, 0xff00ffff] }, 0x20000] } } }, { counter: 'new_wan2' }],
  ]);
  assert.deepEqual(chain(d, 'restore_wan2')!.rules[0]!.expr, [
    { counter: 'traffic_wan2' },
    { mangle: { key: { meta: { key: 'mark' } }, value: { '|': [{ '&': [{ meta: { key: 'mark' } }, 0xff00ffff] }, 0x20000] } } },
  ]);
  assert.deepEqual(chain(d, 'in_wan2')!.rules[0]!.expr, [{ mangle: { key: { ct: { key: 'mark' } }, value: { '|': [{ '&': [{ ct: { key: 'mark' } }, 0xff00ffff] }, 0x20000] } } }]);
  // Every packet: one map lookup on the ct mark, one failed `ct state new` test.
  assert.deepEqual(chain(d, 'prerouting')!.rules.map((r) => r.expr), [
    [{ vmap: { key: { '&': [{ ct: { key: 'mark' } }, 0xff0000] }, data: '@restore' } }],
    [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: 'new' } }, { jump: { target: 'new_conn' } }],
  ]);
  assert.deepEqual(chain(d, 'new_conn')!.rules.map((r) => r.expr).slice(0, 2), [
    [{ match: { op: '!=', left: { '&': [{ ct: { key: 'mark' } }, 0xff0000] }, right: 0 } }, { return: null }],
    [{ vmap: { key: { meta: { key: 'iifname' } }, data: '@wan_in' } }],
  ]);
  assert.deepEqual(d.nft.maps.find((m) => m.name === 'wan_in')!.elements, [
    ['wan1', { goto: { target: 'in_wan1' } }],
    ['wan2', { goto: { target: 'in_wan2' } }],
    ['wan3', { goto: { target: 'in_wan3' } }],
  ]);
  assert.deepEqual(d.nft.counters, ['new_wan1', 'traffic_wan1', 'new_wan2', 'traffic_wan2', 'new_wan3', 'traffic_wan3']);
  const restore = d.nft.maps.find((m) => m.name === 'restore')!;
  assert.deepEqual(restore.elements.map((e) => e[0]), [0x10000, 0x20000, 0x30000, 0xff0000]);
  // Invalid conntrack state from or to a WAN is dropped on forward and input.
  assert.equal(JSON.stringify(chain(d, 'forward')!.rules).match(/"invalid"/g)!.length, 2);
  assert.equal(JSON.stringify(chain(d, 'input')!.rules).match(/"invalid"/g)!.length, 1);
});

test('without LAN interfaces nothing is classified (only routing for the router itself)', () => {
  const c = config({ links: [{ name: 'wan1', interface: 'wan1' }] });
  const d = plan(c, views(c));
  assert.equal(chain(d, 'classify'), undefined);
  assert.equal(chain(d, 'new_conn')!.rules.length, 2, 'marked: return; inbound: take the arrival link; nothing from a LAN');
});

test('deterministic: same inputs in any view order give a deep-equal plan; the structure ignores health', () => {
  const c = threeLinks(TIERED);
  const v = views(c, { wan2: { state: 'degraded', weight: 1 } });
  const a = plan(c, v);
  const b = plan(c, [...v].reverse());
  assert.deepEqual(a, b);
  assert.equal(JSON.stringify(a), JSON.stringify(plan(c, v)));
  const other = plan(c, views(c, { wan1: { state: 'offline' } }));
  assert.deepEqual(other.nft.chains, a.nft.chains);
  assert.deepEqual(other.rules, a.rules);
  assert.deepEqual(other.nft.maps.filter((m) => !m.dynamic), a.nft.maps.filter((m) => !m.dynamic));
});

test('ownership lists our tables, priority and nexthop ranges, mark mask and nft table', () => {
  const c = threeLinks();
  c.links[2]!.table = 300;
  const d = plan(c, views(c));
  assert.deepEqual(d.ownership, {
    protocol: 87,
    tables: [300, 20100, 20101, 20102],
    rulePriorities: { first: 20100, last: 20227 },
    nexthopIds: { first: 87_000_000, last: 87_000_999 },
    markMask: 0xff0000,
    mainMark: 0xff0000,
    nftFamily: 'inet',
    nftTable: 'wanbraid',
  });
  assert.deepEqual(d.sysctls.map((s) => `${s.key}=${s.value}`), ['net.ipv4.fib_multipath_hash_policy=1', 'net.ipv6.fib_multipath_hash_policy=1', 'net.ipv4.conf.all.src_valid_mark=1']);
});
