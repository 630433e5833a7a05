/**
 * Which links a policy uses now, and how new flows are spread over them.
 *
 * Selection, per family: the best (lowest) tier that has an up link with weight > 0 wins, at those
 * links' weights; when no tier has one, up links of weight 0 share equally (weight 0 means "only
 * when nothing else is up"); when none is up either, the policy's lastResort applies.
 *
 * A policy weight (`links[].weight`) replaces the link's configured weight inside that policy and
 * follows the link's weight in effect proportionally (a degraded link at half its weight runs at
 * half the policy weight).
 *
 * Spreading is stateless and deterministic, so that the structure of the nft ruleset never
 * depends on health:
 * - random picks draw from {@link PICK_SLOTS} slots, dealt to links by largest remainder;
 * - sticky picks hash into {@link STICKY_BUCKETS} buckets, each owned by the link with the best
 *   weighted rendezvous (highest-random-weight) score, so when a link leaves only its own buckets
 *   move and a returning link takes back exactly those.
 */
import type { Config, PolicyConfig, QuicMode } from '../config/schema.js';
import type { Family } from '../config/values.js';
import { isUp, type ResolvedLink } from './links.js';
import type { PolicyChoice } from './types.js';

/** Slots a random pick draws from (`numgen random mod PICK_SLOTS`). */
export const PICK_SLOTS = 1000;
/** Buckets a sticky pick hashes into (`jhash … mod STICKY_BUCKETS`). */
export const STICKY_BUCKETS = 256;
/** Name of the policy used when routing.defaultPolicy is absent: every link, tier 1. */
export const IMPLICIT_DEFAULT_POLICY = '_all';

export interface ResolvedPolicy {
  name: string;
  members: { link: string; tier: number; weight: number | undefined }[];
  sticky: PolicyConfig['sticky'];
  lastResort: 'unreachable' | 'blackhole' | 'main';
  /** The relay entry that takes the policy's TCP flows (a relay policy has no members). */
  relay: string | undefined;
  /** A relay policy's QUIC mode (config `relay.quic`); undefined for a policy of links. */
  quic: QuicMode | undefined;
}

/** The config's policies in order, plus the implicit default when routing.defaultPolicy is absent. */
export function resolvePolicies(config: Config): { policies: ResolvedPolicy[]; defaultPolicy: string } {
  const policies: ResolvedPolicy[] = Object.entries(config.policies).map(([name, p]) => ({
    name,
    members: (p.links ?? []).map((l) => ({ link: l.link, tier: l.tier, weight: l.weight })),
    sticky: p.sticky,
    lastResort: p.lastResort ?? config.routing.lastResort,
    relay: p.relay?.entry,
    quic: p.relay?.quic,
  }));
  let defaultPolicy = config.routing.defaultPolicy;
  if (defaultPolicy === undefined) {
    defaultPolicy = IMPLICIT_DEFAULT_POLICY;
    policies.push({
      name: IMPLICIT_DEFAULT_POLICY,
      members: config.links.map((l) => ({ link: l.name, tier: 1, weight: undefined })),
      sticky: 'none',
      lastResort: config.routing.lastResort,
      relay: undefined,
      quic: undefined,
    });
  }
  return { policies, defaultPolicy };
}

/** A member's weight inside a policy now (0 when its link is not up or cannot carry the family). */
export function memberWeight(m: ResolvedPolicy['members'][number], link: ResolvedLink, family: Family): number {
  if (!isUp(link.plan.state) || !link.routes[family]) return 0;
  const inEffect = link.view?.weight ?? 0;
  if (m.weight === undefined) return inEffect;
  if (link.plan.state === 'online') return m.weight;
  // Degraded: follow the link's reduction proportionally.
  const configured = link.cfg.weight;
  if (inEffect === 0) return 0;
  if (configured === 0 || inEffect >= configured) return m.weight;
  return Math.max(1, Math.round((m.weight * inEffect) / configured));
}

export function choose(policy: ResolvedPolicy, links: ReadonlyMap<string, ResolvedLink>, family: Family): PolicyChoice {
  const cands = policy.members.flatMap((m) => {
    const l = links.get(m.link);
    if (!l || !isUp(l.plan.state) || !l.routes[family]) return [];
    return [{ link: m.link, tier: m.tier, weight: memberWeight(m, l, family) }];
  });
  const tiers = [...new Set(cands.filter((c) => c.weight > 0).map((c) => c.tier))].sort((a, b) => a - b);
  const best = tiers[0];
  if (best !== undefined) {
    return {
      family,
      tier: best,
      members: cands.filter((c) => c.tier === best && c.weight > 0).map((c) => ({ link: c.link, weight: c.weight })),
      lastResort: policy.lastResort,
    };
  }
  if (cands.length > 0) return { family, tier: 0, members: cands.map((c) => ({ link: c.link, weight: 1 })), lastResort: policy.lastResort };
  return { family, tier: undefined, members: [], lastResort: policy.lastResort };
}

/**
 * Deal `slots` slots to weighted members by largest remainder (ties to the earlier member):
 * contiguous ranges in member order, `[from, to]` inclusive.
 */
export function dealSlots<T extends { weight: number }>(members: readonly T[], slots = PICK_SLOTS): { member: T; from: number; to: number }[] {
  const total = members.reduce((s, m) => s + m.weight, 0);
  if (total <= 0) return [];
  const exact = members.map((m) => (m.weight * slots) / total);
  const counts = exact.map((e) => Math.floor(e));
  let left = slots - counts.reduce((s, c) => s + c, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const o of order) {
    if (left <= 0) break;
    counts[o.i]!++;
    left--;
  }
  const out: { member: T; from: number; to: number }[] = [];
  let next = 0;
  members.forEach((m, i) => {
    const n = counts[i]!;
    if (n > 0) out.push({ member: m, from: next, to: next + n - 1 });
    next += n;
  });
  return out;
}

/** FNV-1a, 32 bits: a small, well-spread, dependency-free hash for rendezvous scores. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche (murmur3 fmix32) so that keys differing in one digit spread well.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Owner of each sticky bucket: the member with the lowest `-ln(u) / weight`, u from a hash of
 * (policy, link, bucket) — weighted rendezvous hashing. Returned as runs `[from, to]` of buckets
 * with the same owner.
 */
export function stickyBuckets<T extends { link: string; weight: number }>(
  policy: string,
  members: readonly T[],
  buckets = STICKY_BUCKETS,
): { member: T; from: number; to: number }[] {
  const live = members.filter((m) => m.weight > 0);
  if (live.length === 0) return [];
  const out: { member: T; from: number; to: number }[] = [];
  for (let b = 0; b < buckets; b++) {
    let best: T | undefined;
    let bestScore = Infinity;
    for (const m of live) {
      const u = (fnv1a(`${policy}\u0000${m.link}\u0000${b}`) + 0.5) / 2 ** 32;
      const score = -Math.log(u) / m.weight;
      if (score < bestScore) {
        bestScore = score;
        best = m;
      }
    }
    const last = out[out.length - 1];
    if (last && last.member === best) last.to = b;
    else out.push({ member: best!, from: b, to: b });
  }
  return out;
}

/** Seed of a policy's jhash: fixed per policy name so that a restart keeps sources where they were. */
export function stickySeed(policy: string): number {
  return fnv1a(`wanbraid-sticky\u0000${policy}`);
}
