/**
 * QUIC fallback for relay policies (plan/ruleset.ts): the UDP/443 twin of a relay rule, rejected
 * with ICMP port unreachable right before it in `classify`, for the families the entry relays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan } from '../../../src/plan/planner.js';
import { renderPlan } from '../../../src/plan/render.js';
import { quicComment } from '../../../src/plan/ruleset.js';
import type { NftStmt } from '../../../src/kernel/nft/json.js';
import type { DesiredState } from '../../../src/plan/types.js';
import { threeLinks, views } from './fixtures.js';

const classify = (d: DesiredState) => d.nft.chains.find((c) => c.name === 'classify')!.rules;
const m = (left: unknown, right: unknown): NftStmt => ({ match: { op: '==', left, right } }) as NftStmt;
const nfproto = (f: 'ipv4' | 'ipv6') => m({ meta: { key: 'nfproto' } }, f);
const l4 = (p: string) => m({ meta: { key: 'l4proto' } }, p);
const REJECT: NftStmt[] = [{ counter: null }, { reject: { type: 'icmpx', expr: 'port-unreachable' } }];

function relayConfig(relay: unknown, match: Record<string, unknown>, listen = '[::]:7000') {
  return threeLinks({
    relay: { entries: [{ name: 'stripe', listen, exit: '198.19.0.20:7100', keyFile: '/k', paths: [{ link: 'wan1' }, { link: 'wan2' }] }] },
    policies: { web: { relay }, bal: { links: ['wan1', 'wan2'] } },
    rules: [
      { name: 'ssh', match: { proto: 'tcp', dstPort: 22 }, policy: 'bal' },
      { name: 'cdn', match: { proto: 'tcp', ...match }, policy: 'web' },
      { name: 'rest', policy: 'bal' },
    ],
  });
}

test('quic fallback (the default): UDP/443 matched by a relay rule is rejected just before it, per family, with a comment', () => {
  const c = relayConfig('stripe', { dst: ['198.19.0.0/24', '2001:db8:ff::/48'] });
  assert.deepEqual(c.policies.web!.relay, { entry: 'stripe', quic: 'fallback' }, '`relay: NAME` is short for { entry: NAME } with quic fallback');
  const d = plan(c, views(c));
  const rules = classify(d);
  const comment = quicComment('stripe', 'cdn');
  assert.equal(comment, 'wanbraid: quic fallback for relay entry stripe (rule cdn)');
  assert.deepEqual(
    rules.map((r) => r.comment).filter(Boolean),
    ['rule ssh', 'rule ssh', comment, comment, 'rule cdn', 'rule cdn', 'rule rest', 'rule rest', 'default policy'],
    'in rule order (one nft rule per family): the rejects right before the relay rule they belong to',
  );
  const quic = rules.filter((r) => r.comment === comment);
  assert.deepEqual(quic[0]!.expr, [
    nfproto('ipv4'),
    l4('udp'),
    m({ payload: { protocol: 'ip', field: 'daddr' } }, { prefix: { addr: '198.19.0.0', len: 24 } }),
    m({ payload: { protocol: 'udp', field: 'dport' } }, 443),
    ...REJECT,
  ]);
  assert.deepEqual(quic[1]!.expr, [
    nfproto('ipv6'),
    l4('udp'),
    m({ payload: { protocol: 'ip6', field: 'daddr' } }, { prefix: { addr: '2001:db8:ff::', len: 48 } }),
    m({ payload: { protocol: 'udp', field: 'dport' } }, 443),
    ...REJECT,
  ]);
  // The TCP rule itself is unchanged: relayed.
  const tcp = rules.filter((r) => r.comment === 'rule cdn');
  assert.deepEqual(tcp[0]!.expr, [nfproto('ipv4'), l4('tcp'), m({ payload: { protocol: 'ip', field: 'daddr' } }, { prefix: { addr: '198.19.0.0', len: 24 } }), { goto: { target: 'relay_stripe' } }]);
  assert.deepEqual(d.policies.find((p) => p.name === 'web')!.relay, { entry: 'stripe', port: 7000, quic: 'fallback' });
  assert.match(renderPlan(d), /^web: TCP to relay entry stripe \(port 7000\); its QUIC \(UDP\/443\) rejected, so clients fall back to TCP$/m);
});

test('quic fallback follows the rule: only when its ports include 443, its source ports and interfaces kept, only the families the entry relays', () => {
  const quicOf = (d: DesiredState) => classify(d).filter((r) => r.comment?.startsWith('wanbraid: quic fallback'));
  // Ports without 443: TCP to 443 is not relayed, so neither is QUIC turned away.
  assert.deepEqual(quicOf(plan(relayConfig('stripe', { dstPort: [80, 5201] }), views(relayConfig('stripe', {})))), []);
  // 443 in a range: the twin matches 443 alone.
  const ranged = relayConfig({ entry: 'stripe' }, { dstPort: ['400-500', 8443], srcPort: '1024-65535', iif: ['lan0'] });
  const r = quicOf(plan(ranged, views(ranged)));
  assert.equal(r.length, 2);
  assert.deepEqual(r[0]!.expr, [
    nfproto('ipv4'),
    m({ meta: { key: 'iifname' } }, 'lan0'),
    l4('udp'),
    m({ payload: { protocol: 'udp', field: 'sport' } }, { range: [1024, 65535] }),
    m({ payload: { protocol: 'udp', field: 'dport' } }, 443),
    ...REJECT,
  ]);
  // An entry that listens on IPv4 only relays IPv4 TCP only: IPv6 QUIC is left alone too.
  const v4 = relayConfig('stripe', {}, '0.0.0.0:7000');
  const q4 = quicOf(plan(v4, views(v4)));
  assert.deepEqual(q4.map((x) => x.expr[0]), [nfproto('ipv4')]);
  assert.deepEqual(q4[0]!.expr.slice(1), [l4('udp'), m({ payload: { protocol: 'udp', field: 'dport' } }, 443), ...REJECT]);
});

test('quic pass leaves UDP/443 to the other rules (balanced per flow like any UDP)', () => {
  const c = relayConfig({ entry: 'stripe', quic: 'pass' }, {});
  const d = plan(c, views(c));
  const rules = classify(d);
  assert.deepEqual(rules.map((r) => r.comment).filter(Boolean), ['rule ssh', 'rule ssh', 'rule cdn', 'rule cdn', 'rule rest', 'rule rest', 'default policy']);
  assert.ok(!JSON.stringify(d.nft).includes('port-unreachable'));
  assert.match(renderPlan(d), /^web: TCP to relay entry stripe \(port 7000\); QUIC \(UDP\/443\) passes$/m);
});
