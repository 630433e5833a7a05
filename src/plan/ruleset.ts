/**
 * The nftables half of the plan: `table inet wanbraid` as a typed {@link NftTableSpec}. Pure.
 *
 * Layout (chain priorities: conntrack -200 < ours -190 < mangle -150 < dstnat -100 < filter 0):
 *
 *   prerouting  filter -190   ct mark & M vmap @restore     → restore_<link>: count, ct mark → meta mark (our bits)
 *                             ct state new → jump new_conn
 *   new_conn                  already marked: return; iifname vmap @wan_in → in_<link>: the
 *                             arrival link's ct mark (port forwards answer the way they came);
 *                             from LAN → goto classify
 *   classify                  local/broadcast/multicast destinations: return
 *                             @bypass_v4 / @bypass_v6 → goto mark_main
 *                             config rules in order → goto pol_<policy> | relay_<entry>;
 *                             before a relay policy's rule (quic fallback): the same match
 *                             for UDP to port 443 → counter, reject (icmpx port-unreachable)
 *                             → goto pol_<default policy>
 *   pol_<P>                   meta mark ← numgen random mod 1000 | jhash(src[,dst]) mod 256
 *                             meta mark vmap @pick_<P>_v4|v6 → goto mark_<link>     (elements: health)
 *                             lastResort: reject (unreachable) | drop (blackhole) | goto mark_main
 *   mark_<link>               meta mark ← link mark; if the route for that mark does not leave
 *                             through the link (a LAN, a VPN main knows): goto mark_main;
 *                             ct mark bits ← link mark; count new flow
 *   output      route -150    ct mark & M vmap @restore      (the router's replies on marked conns)
 *   nudge       filter -300   meta mark == main, tcp: drop unless oif is a LAN interface; notrack (failover nudges, kernel/tcp-nudge.ts)
 *   input/forward filter 0    conntrack-invalid packets from or to a WAN: drop
 *   nat_prerouting nat -100   relay-marked TCP → redirect to the entry's port
 *   nat_postrouting nat 100   per WAN: masquerade, or snat to the configured address
 *
 * The numgen modulus, the hash modulus and every chain are fixed by the config alone; link health
 * only changes the elements of the `pick_*` maps. The meta mark is the scratch register of a
 * pick: on the first packet of a balanced flow foreign bits in the packet mark set by chains that
 * ran before ours (raw, conntrack priorities) are cleared; ct mark bits outside the mask are kept.
 */
import type { Config, RuleConfig } from '../config/schema.js';
import type { Family, Prefix } from '../config/values.js';
import type { NftExpr, NftMapElem, NftStmt } from '../kernel/nft/json.js';
import {
  addr,
  and,
  anonCounter,
  anonSet,
  concat,
  counterRef,
  ct,
  drop,
  fibDaddr,
  goto,
  jhash,
  jump,
  mangle,
  mapElem,
  masquerade,
  match,
  meta,
  nfproto,
  numgenRandom,
  payload,
  prefixExpr,
  range,
  redirectToPort,
  rejectNoRoute,
  rejectPortUnreachable,
  ret,
  setMarkBits,
  setRef,
  snat,
  vmap,
} from '../kernel/nft/expr.js';
import type { NftChainSpec, NftMapSpec, NftRuleSpec, NftSetSpec, NftTableSpec } from '../kernel/nft/table.js';
import { reducePrefixes } from './addr.js';
import { FAMILIES, type ResolvedLink } from './links.js';
import type { MarkLayout } from './ranges.js';
import { PICK_SLOTS, STICKY_BUCKETS, dealSlots, stickyBuckets, stickySeed, type ResolvedPolicy } from './select.js';
import type { PolicyChoice } from './types.js';

export const NFT_TABLE = 'wanbraid';

/** Chain and object names, in one place so that status and tests agree with the planner. */
export const nftNames = {
  markChain: (link: string) => `mark_${link}`,
  restoreChain: (link: string) => `restore_${link}`,
  inChain: (link: string) => `in_${link}`,
  policyChain: (policy: string) => `pol_${policy}`,
  relayChain: (entry: string) => `relay_${entry}`,
  pickMap: (policy: string, family: Family) => `pick_${policy}_v${family}`,
  setName: (set: string, family: Family) => `set_${set}_v${family}`,
  bypassSet: (family: Family) => `bypass_v${family}`,
  newCounter: (link: string) => `new_${link}`,
  /** Packets and bytes (both directions) of the flows pinned to the link, after their first packet. */
  trafficCounter: (link: string) => `traffic_${link}`,
  mainMark: 'mark_main',
  mainRestore: 'restore_main',
} as const;

export interface RulesetInput {
  config: Config;
  links: readonly ResolvedLink[];
  marks: MarkLayout;
  policies: readonly ResolvedPolicy[];
  defaultPolicy: string;
  /** Per policy name, its choice per family. */
  choices: ReadonlyMap<string, Record<Family, PolicyChoice>>;
  /** Current contents of the runtime-changeable sets (config elements unless overridden). */
  bypass: readonly Prefix[];
  sets: ReadonlyMap<string, readonly Prefix[]>;
}

export function planRuleset(input: RulesetInput): NftTableSpec {
  const { config, links, marks } = input;
  const M = marks.mask;
  const chains: NftChainSpec[] = [];
  const maps: NftMapSpec[] = [];
  const sets: NftSetSpec[] = [];
  const counters: string[] = [];
  const rule = (...expr: NftStmt[]): NftRuleSpec => ({ expr });
  const lanIfs = config.lan?.interfaces ?? [];
  const wanIfs = links.map((l) => l.cfg.interface);
  const entries = config.relay?.entries ?? [];

  // --- base chains. Per packet of an established flow: one verdict-map lookup on the ct mark
  // (restore + count) and one failed `ct state new` test.
  chains.push({
    name: 'prerouting',
    base: { type: 'filter', hook: 'prerouting', prio: -190, policy: 'accept' },
    rules: [rule(vmap(and(ct('mark'), M), setRef('restore'))), rule(match(ct('state'), 'in', 'new'), jump('new_conn'))],
  });
  const newConn: NftRuleSpec[] = [rule(match(and(ct('mark'), M), '!=', 0), ret())];
  if (links.length > 0) newConn.push(rule(vmap(meta('iifname'), setRef('wan_in'))));
  if (lanIfs.length > 0) newConn.push(rule(match(meta('iifname'), '==', anonSet(lanIfs)), goto('classify')));
  chains.push({ name: 'new_conn', rules: newConn });

  if (lanIfs.length > 0) chains.push({ name: 'classify', rules: classifyRules(input) });

  chains.push({ name: 'output', base: { type: 'route', hook: 'output', prio: -150, policy: 'accept' }, rules: [rule(vmap(and(ct('mark'), M), setRef('restore')))] });
  // The failover's nudges to a dead link's LAN clients (kernel/tcp-nudge.ts) leave untracked:
  // conntrack must not take them for the start of a connection from the server. They are sent in
  // another host's name, so one that would leave by anything but a LAN interface is dropped.
  if (lanIfs.length > 0 && config.routing.resetDeadFlows) {
    const nudge = [match(meta('mark'), '==', marks.main), match(meta('l4proto'), '==', 'tcp')];
    chains.push({
      name: 'nudge',
      base: { type: 'filter', hook: 'output', prio: -300, policy: 'accept' },
      rules: [rule(...nudge, match(meta('oifname'), '!=', anonSet(lanIfs)), drop()), rule(...nudge, { notrack: null })],
    });
  }
  if (wanIfs.length > 0) {
    const invalid = match(ct('state'), 'in', 'invalid');
    // The conntrack state first: almost every packet fails it at once.
    chains.push({ name: 'input', base: { type: 'filter', hook: 'input', prio: 0, policy: 'accept' }, rules: [rule(invalid, match(meta('iifname'), '==', anonSet(wanIfs)), drop())] });
    chains.push({
      name: 'forward',
      base: { type: 'filter', hook: 'forward', prio: 0, policy: 'accept' },
      rules: [rule(invalid, match(meta('iifname'), '==', anonSet(wanIfs)), drop()), rule(invalid, match(meta('oifname'), '==', anonSet(wanIfs)), drop())],
    });
  }

  // --- relay redirects (nat prerouting) and masquerade (nat postrouting)
  const relayRules: NftRuleSpec[] = [];
  entries.forEach((e, k) => {
    if (!usedRelayEntries(input.policies).has(e.name)) return;
    const matchMark = match(and(meta('mark'), M), '==', marks.relay(k));
    const tcp = match(meta('l4proto'), '==', 'tcp');
    if (isUnspecified(e.listen.host)) relayRules.push(rule(matchMark, tcp, redirectToPort(e.listen.port)));
    else relayRules.push(rule(matchMark, nfproto(e.listen.family), tcp, { dnat: { family: e.listen.family === 4 ? 'ip' : 'ip6', addr: e.listen.host, port: e.listen.port } }));
  });
  if (relayRules.length > 0) chains.push({ name: 'nat_prerouting', base: { type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' }, rules: relayRules });

  const natRules: NftRuleSpec[] = [];
  for (const l of links) {
    if (!l.cfg.masquerade) continue;
    const oif = match(meta('oifname'), '==', l.cfg.interface);
    const snatTo = new Map<Family, string>();
    for (const a of l.cfg.snat ?? []) snatTo.set(a.includes(':') ? 6 : 4, a);
    if (snatTo.size === 0) {
      natRules.push(rule(oif, masquerade()));
      continue;
    }
    for (const f of FAMILIES) {
      const to = snatTo.get(f);
      natRules.push(rule(oif, nfproto(f), to ? snat(f, to) : masquerade()));
    }
  }
  if (natRules.length > 0) chains.push({ name: 'nat_postrouting', base: { type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' }, rules: natRules });

  // --- per policy: the pick
  for (const p of input.policies) {
    if (p.relay !== undefined) continue;
    const picks: NftRuleSpec[] = [];
    for (const f of FAMILIES) {
      picks.push(rule(nfproto(f), mangle(meta('mark'), pickExpr(p, f)), vmap(meta('mark'), setRef(nftNames.pickMap(p.name, f)))));
      maps.push({
        name: nftNames.pickMap(p.name, f),
        type: 'mark',
        map: 'verdict',
        interval: true,
        dynamic: true,
        elements: pickElements(p, input.choices.get(p.name)![f]),
      });
    }
    picks.push(rule(...lastResortStmts(p.lastResort)));
    chains.push({ name: nftNames.policyChain(p.name), rules: picks });
  }

  // --- per link: mark (a new flow), restore (every later packet, counted), inbound connections
  const restoreElems: NftMapElem[] = [];
  const inElems: NftMapElem[] = [];
  for (const l of links) {
    const name = l.plan.name;
    const V = l.plan.mark;
    counters.push(nftNames.newCounter(name), nftNames.trafficCounter(name));
    chains.push({
      name: nftNames.markChain(name),
      rules: [
        rule(mangle(meta('mark'), V)),
        rule(match(fibDaddr('oifname', true), '!=', l.cfg.interface), goto(nftNames.mainMark)),
        rule(setMarkBits('ct', M, V), counterRef(nftNames.newCounter(name))),
      ],
    });
    chains.push({ name: nftNames.restoreChain(name), rules: [rule(counterRef(nftNames.trafficCounter(name)), setMarkBits('meta', M, V))] });
    chains.push({ name: nftNames.inChain(name), rules: [rule(setMarkBits('ct', M, V))] });
    restoreElems.push(mapElem(V, jump(nftNames.restoreChain(name))));
    inElems.push(mapElem(l.cfg.interface, goto(nftNames.inChain(name))));
  }
  chains.push({ name: nftNames.mainMark, rules: [rule(mangle(meta('mark'), marks.main), setMarkBits('ct', M, marks.main))] });
  chains.push({ name: nftNames.mainRestore, rules: [rule(setMarkBits('meta', M, marks.main))] });
  restoreElems.push(mapElem(marks.main, jump(nftNames.mainRestore)));
  entries.forEach((e, k) => {
    if (!usedRelayEntries(input.policies).has(e.name)) return;
    chains.push({ name: nftNames.relayChain(e.name), rules: [rule(mangle(meta('mark'), marks.relay(k)), setMarkBits('ct', M, marks.relay(k)))] });
  });

  maps.unshift(
    { name: 'restore', type: 'mark', map: 'verdict', interval: false, dynamic: false, elements: restoreElems },
    ...(links.length > 0 ? [{ name: 'wan_in', type: 'ifname' as const, map: 'verdict' as const, interval: false, dynamic: false, elements: inElems }] : []),
  );

  // --- runtime sets
  for (const f of FAMILIES) sets.push(prefixSet(nftNames.bypassSet(f), f, input.bypass));
  for (const name of Object.keys(config.sets)) {
    const contents = input.sets.get(name) ?? [];
    for (const f of FAMILIES) sets.push(prefixSet(nftNames.setName(name, f), f, contents));
  }

  return { family: 'inet', name: NFT_TABLE, chains, sets, maps, counters };
}

function prefixSet(name: string, family: Family, contents: readonly Prefix[]): NftSetSpec {
  return { name, type: family === 4 ? 'ipv4_addr' : 'ipv6_addr', interval: true, dynamic: true, elements: reducePrefixes(contents, family).map(prefixExpr) };
}

/** The map elements of a policy's pick for one family. */
export function pickElements(p: ResolvedPolicy, choice: PolicyChoice): NftMapElem[] {
  const runs = p.sticky === 'none' ? dealSlots(choice.members, PICK_SLOTS) : stickyBuckets(p.name, choice.members, STICKY_BUCKETS);
  return runs.map((r) => mapElem(r.from === r.to ? r.from : range(r.from, r.to), goto(nftNames.markChain(r.member.link))));
}

function pickExpr(p: ResolvedPolicy, f: Family): NftExpr {
  switch (p.sticky) {
    case 'none':
      return numgenRandom(PICK_SLOTS);
    case 'source':
      return jhash(addr(f, 'saddr'), STICKY_BUCKETS, stickySeed(p.name));
    case 'source-dest':
      return jhash(concat(addr(f, 'saddr'), addr(f, 'daddr')), STICKY_BUCKETS, stickySeed(p.name));
  }
}

function lastResortStmts(lr: ResolvedPolicy['lastResort']): NftStmt[] {
  switch (lr) {
    case 'unreachable':
      return [rejectNoRoute()];
    case 'blackhole':
      return [drop()];
    case 'main':
      return [goto(nftNames.mainMark)];
  }
}

function classifyRules(input: RulesetInput): NftRuleSpec[] {
  const out: NftRuleSpec[] = [];
  out.push({ expr: [match(fibDaddr('type'), '==', anonSet(['local', 'broadcast', 'multicast'])), ret()] });
  for (const f of FAMILIES) out.push({ expr: [match(addr(f, 'daddr'), '==', setRef(nftNames.bypassSet(f))), goto(nftNames.mainMark)] });
  const byName = new Map(input.policies.map((p) => [p.name, p]));
  const entries = input.config.relay?.entries ?? [];
  for (const r of input.config.rules) {
    const p = byName.get(r.policy);
    if (!p) continue;
    let verdict: NftStmt = goto(nftNames.policyChain(p.name));
    let families: readonly Family[] = FAMILIES;
    if (p.relay !== undefined) {
      const entry = entries.find((e) => e.name === p.relay);
      if (!entry) continue;
      verdict = goto(nftNames.relayChain(entry.name));
      if (!isUnspecified(entry.listen.host) || entry.listen.family === 4) families = [entry.listen.family];
      const quic = p.quic === 'fallback' ? quicRule(r) : undefined;
      // Rejected where the rule's TCP would be relayed: the same families, at the rule's place.
      if (quic) for (const expr of expandRule(quic, families)) out.push({ expr: [...expr, anonCounter(), rejectPortUnreachable()], comment: quicComment(entry.name, r.name) });
    }
    for (const expr of expandRule(r, families)) out.push({ expr: [...expr, verdict], comment: `rule ${r.name}` });
  }
  out.push({ expr: [goto(nftNames.policyChain(input.defaultPolicy))], comment: 'default policy' });
  return out;
}

/** UDP port of QUIC (HTTP/3). */
export const QUIC_PORT = 443;

/** The comment of a QUIC fallback rule in `nft list ruleset`. */
export const quicComment = (entry: string, rule: string): string => `wanbraid: quic fallback for relay entry ${entry} (rule ${rule})`;

/**
 * The QUIC twin of a relay policy's rule: the same match for UDP to port 443, or undefined when
 * the rule's destination ports leave 443 out (its TCP to 443 is not relayed either). A relay
 * rule matches TCP only (config/validate.ts), so the twin never shadows the rule itself.
 */
export function quicRule(r: RuleConfig): RuleConfig | undefined {
  const ports = r.match.dstPort;
  if (ports && !ports.some((p) => p.from <= QUIC_PORT && QUIC_PORT <= p.to)) return undefined;
  return { ...r, match: { ...r.match, proto: 'udp', dstPort: [{ from: QUIC_PORT, to: QUIC_PORT }] } };
}

/**
 * One config rule as nft matches: one statement list per family and per alternative of src and
 * dst (a named set, or an anonymous set of the rule's prefixes), since one nft rule cannot "or" a
 * set reference with literal prefixes.
 */
export function expandRule(r: RuleConfig, allowed: readonly Family[]): NftStmt[][] {
  const m = r.match;
  const fams = allowed.filter((f) => m.family === undefined || (m.family === 'ipv4') === (f === 4));
  const out: NftStmt[][] = [];
  for (const f of fams) {
    const srcAlts = m.src ? alternatives(m.src, f, 'saddr') : [undefined];
    const dstAlts = m.dst ? alternatives(m.dst, f, 'daddr') : [undefined];
    for (const s of srcAlts) {
      for (const d of dstAlts) {
        const expr: NftStmt[] = [nfproto(f)];
        if (m.iif) expr.push(match(meta('iifname'), '==', anonSet(m.iif)));
        if (m.proto) expr.push(match(meta('l4proto'), '==', m.proto));
        if (s) expr.push(s);
        if (d) expr.push(d);
        const portProto = m.proto === 'tcp' || m.proto === 'udp' || m.proto === 'sctp' || m.proto === 'udplite' ? m.proto : undefined;
        if (portProto && m.srcPort) expr.push(match(payload(portProto, 'sport'), '==', anonSet(m.srcPort.map(portExpr))));
        if (portProto && m.dstPort) expr.push(match(payload(portProto, 'dport'), '==', anonSet(m.dstPort.map(portExpr))));
        out.push(expr);
      }
    }
  }
  return out;
}

type AddrItem = NonNullable<RuleConfig['match']['src']>[number];

function alternatives(list: readonly AddrItem[], f: Family, side: 'saddr' | 'daddr'): NftStmt[] {
  const out: NftStmt[] = [];
  for (const a of list) if ('set' in a) out.push(match(addr(f, side), '==', setRef(nftNames.setName(a.set, f))));
  const prefixes = reducePrefixes(
    list.filter((a): a is Prefix => !('set' in a)),
    f,
  );
  if (prefixes.length > 0) out.push(match(addr(f, side), '==', anonSet(prefixes.map(prefixExpr))));
  return out;
}

function portExpr(p: { from: number; to: number }): NftExpr {
  return p.from === p.to ? p.from : range(p.from, p.to);
}

function usedRelayEntries(policies: readonly ResolvedPolicy[]): Set<string> {
  return new Set(policies.flatMap((p) => (p.relay !== undefined ? [p.relay] : [])));
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
