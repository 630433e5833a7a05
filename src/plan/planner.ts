/**
 * The planner: `(Config, LinkView[]) → DesiredState`. Pure and deterministic — the same inputs
 * give a deep-equal result, whatever the order of the views — so it is tested exhaustively
 * without root, and `wanbraid check --plan` can print exactly what the daemon would install.
 *
 * What it decides: which links each policy uses per family (tiers, weights, lastResort; see
 * select.ts), the routing objects (routing.ts) and the nft table (ruleset.ts), the sysctls the
 * balancing relies on, and the ownership boundary the reconciler works within.
 */
import type { Config } from '../config/schema.js';
import type { Family, Prefix } from '../config/values.js';
import type { LinkView } from '../model.js';
import { FAMILIES, resolveLinks, type ResolvedLink } from './links.js';
import { NEXTHOP_ID_BASE, NEXTHOP_ID_SLOTS, RTPROT_WANBRAID, RULE_SLOTS, defaultTable, markLayout } from './ranges.js';
import { planRouting } from './routing.js';
import { NFT_TABLE, planRuleset } from './ruleset.js';
import { choose, resolvePolicies } from './select.js';
import type { DesiredState, PolicyChoice, PolicyPlan, SysctlSpec } from './types.js';

export interface PlanOptions {
  /** Resilient nexthop groups available (kernel >= 5.13); routing.groupType auto uses them. Default true. */
  resilientGroups?: boolean;
  /** Current bypass contents when changed at runtime (default: config `bypass`). */
  bypass?: readonly Prefix[];
  /** Current contents of named sets changed at runtime (default: config `sets`). */
  sets?: ReadonlyMap<string, readonly Prefix[]>;
}

/** Sysctls the balancing relies on; the previous values are restored on stop. */
export const BALANCER_SYSCTLS: readonly SysctlSpec[] = [
  { key: 'net.ipv4.fib_multipath_hash_policy', value: '1', why: 'hash multipath routes on L4 (ports), not just addresses' },
  { key: 'net.ipv6.fib_multipath_hash_policy', value: '1', why: 'IPv6 policy 0 re-hashes a TCP flow when its flow label changes' },
  { key: 'net.ipv4.conf.all.src_valid_mark', value: '1', why: 'reverse-path checks see the restored mark, so replies on a non-default link pass rp_filter' },
];

export function plan(config: Config, views: readonly LinkView[], opts: PlanOptions = {}): DesiredState {
  const r = config.routing;
  const marks = markLayout(r.markMask, config.relay?.entries.length ?? 0);
  const links = resolveLinks(config, views, marks);
  const byName = new Map<string, ResolvedLink>(links.map((l) => [l.plan.name, l]));
  const { policies, defaultPolicy } = resolvePolicies(config);

  const choices = new Map<string, Record<Family, PolicyChoice>>();
  for (const p of policies) {
    if (p.relay !== undefined) continue;
    choices.set(p.name, { 4: choose(p, byName, 4), 6: choose(p, byName, 6) });
  }
  const defaultChoice = choices.get(defaultPolicy)!;

  const routing = planRouting({ config, links, marks, defaultChoice, resilientGroups: opts.resilientGroups ?? true });

  const sets = new Map<string, readonly Prefix[]>();
  for (const [name, s] of Object.entries(config.sets)) sets.set(name, opts.sets?.get(name) ?? s.elements);
  const nft = planRuleset({ config, links, marks, policies, defaultPolicy, choices, bypass: opts.bypass ?? config.bypass, sets });

  const entries = config.relay?.entries ?? [];
  const policyPlans: PolicyPlan[] = policies.map((p) => {
    const entry = p.relay !== undefined ? entries.find((e) => e.name === p.relay) : undefined;
    const c = choices.get(p.name);
    return {
      name: p.name,
      sticky: p.sticky,
      ...(entry ? { relay: { entry: entry.name, port: entry.listen.port, quic: p.quic ?? 'fallback' } } : {}),
      choices: c ? FAMILIES.map((f) => c[f]) : [],
    };
  });

  const tables = [defaultTable(r.tableBase), ...links.map((l) => l.plan.table)];
  return {
    links: links.map((l) => l.plan),
    policies: policyPlans,
    defaultPolicy,
    nexthops: routing.nexthops,
    routes: routing.routes,
    rules: routing.rules,
    nft,
    sysctls: BALANCER_SYSCTLS.map((s) => ({ ...s })),
    ownership: {
      protocol: RTPROT_WANBRAID,
      tables: [...new Set(tables)].sort((a, b) => a - b),
      rulePriorities: { first: r.rulePriorityBase, last: r.rulePriorityBase + RULE_SLOTS - 1 },
      nexthopIds: { first: NEXTHOP_ID_BASE, last: NEXTHOP_ID_BASE + NEXTHOP_ID_SLOTS - 1 },
      markMask: r.markMask >>> 0,
      mainMark: marks.main,
      nftFamily: 'inet',
      nftTable: NFT_TABLE,
    },
  };
}

