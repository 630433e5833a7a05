/**
 * What `wanbraid status` shows about balancing, from the nft counters: per link its weight in
 * effect, its share of new LAN flows and of bytes, and the idle-link warning — an online link
 * with weight > 0 that carried no new flow for `routing.idleLinkWarning` while others did (the
 * "six links online, only four carry traffic" trap). Pure: the counters and the clock come in.
 *
 * Counters are cumulative since the nft table was last installed; a counter that goes down
 * means the table was replaced, and the tracker starts again from the new value.
 */
import type { LinkState } from '../model.js';
import type { CounterValue } from './nft/nft.js';
import { nftNames } from '../plan/ruleset.js';
import type { MetricFamily, MetricSample } from '../status/metrics.js';
import type { LinkPlan } from '../plan/types.js';
import type { NudgeCounters } from './nudger.js';

export interface LinkBalance {
  name: string;
  interface: string;
  state: LinkState;
  /** Weight in effect now. */
  weight: number;
  /** Some policy balances new flows onto it now. */
  inUse: boolean;
  /** New LAN flows pinned to it since the counters started. */
  newFlows: number;
  /** Its share of all new flows, 0..1 (undefined while there are none). */
  newFlowShare: number | undefined;
  /** Packets and bytes, both directions, of the flows pinned to it (after each flow's first packet). */
  packets: number;
  bytes: number;
  /** Its share of all those bytes, 0..1. */
  byteShare: number | undefined;
  /** Milliseconds since it last took a new flow (or since it became usable). */
  idleMs: number;
  /** Set when the idle-link warning applies. */
  warning?: string;
}
export interface BalancerStatus {
  links: LinkBalance[];
  warnings: string[];
  /** The last apply: when (ISO-8601), whether everything succeeded, how long it took (ms). */
  lastApply: { at: string; ok: boolean; durationMs: number; failures: string[] } | undefined;
  /** Failover nudges since start (kernel/nudger.ts): sent, confirmed by a reset, retried, unconfirmed. */
  nudges?: NudgeCounters;
}

/**
 * Per link: the counter value last seen, when its idle clock started (its counter last moved, or
 * it last became usable), and when it last really carried a new flow.
 */
export class IdleTracker {
  private readonly last = new Map<string, { value: number; movedAt: number; carriedAt: number | undefined }>();

  /** Feed counter values read at `now`; links seen for the first time start their idle clock now. */
  observe(newFlows: ReadonlyMap<string, number>, now: number): void {
    for (const [link, value] of newFlows) {
      const prev = this.last.get(link);
      if (!prev) this.last.set(link, { value, movedAt: now, carriedAt: undefined });
      else if (value > prev.value) this.last.set(link, { value, movedAt: now, carriedAt: now });
      // Lower: the table was replaced and its counters restarted; not a movement.
      else if (value < prev.value) this.last.set(link, { ...prev, value });
    }
    for (const link of [...this.last.keys()]) if (!newFlows.has(link)) this.last.delete(link);
  }

  /** Restart a link's idle clock (it just became usable: no warning for the time it was not). */
  reset(link: string, now: number): void {
    const prev = this.last.get(link);
    this.last.set(link, { value: prev?.value ?? 0, movedAt: now, carriedAt: prev?.carriedAt });
  }

  movedAt(link: string): number | undefined {
    return this.last.get(link)?.movedAt;
  }

  carriedAt(link: string): number | undefined {
    return this.last.get(link)?.carriedAt;
  }
}

export function buildStatus(
  links: readonly LinkPlan[],
  inUse: ReadonlySet<string>,
  counters: ReadonlyMap<string, CounterValue>,
  idle: IdleTracker,
  idleLinkWarningMs: number,
  now: number,
): Omit<BalancerStatus, 'lastApply'> {
  const get = (n: string) => counters.get(n) ?? { packets: 0, bytes: 0 };
  const rows = links.map((l) => {
    const newFlows = get(nftNames.newCounter(l.name)).packets;
    const t = get(nftNames.trafficCounter(l.name));
    return { l, newFlows, packets: t.packets, bytes: t.bytes, movedAt: idle.movedAt(l.name) ?? now, carriedAt: idle.carriedAt(l.name) };
  });
  const totalFlows = rows.reduce((s, r) => s + r.newFlows, 0);
  const totalBytes = rows.reduce((s, r) => s + r.bytes, 0);
  const warnings: string[] = [];
  const out: LinkBalance[] = rows.map((r) => {
    const idleMs = Math.max(0, now - r.movedAt);
    const othersBusy = rows.some((o) => o !== r && o.carriedAt !== undefined && now - o.carriedAt < idleLinkWarningMs);
    const b: LinkBalance = {
      name: r.l.name,
      interface: r.l.interface,
      state: r.l.state,
      weight: r.l.weight,
      inUse: inUse.has(r.l.name),
      newFlows: r.newFlows,
      newFlowShare: totalFlows > 0 ? r.newFlows / totalFlows : undefined,
      packets: r.packets,
      bytes: r.bytes,
      byteShare: totalBytes > 0 ? r.bytes / totalBytes : undefined,
      idleMs,
    };
    if (r.l.state === 'online' && r.l.weight > 0 && idleMs >= idleLinkWarningMs && othersBusy) {
      b.warning = `${r.l.name} is online with weight ${r.l.weight} but carried no new flow for ${Math.round(idleMs / 1000)}s while other links did${
        b.inUse ? '' : ' (no policy balances onto it now: check tiers and rules)'
      }`;
      warnings.push(b.warning);
    }
    return b;
  });
  return { links: out, warnings };
}

/**
 * Balancing's Prometheus families (status/metrics.ts), from the nft counters: new flows, packets
 * and bytes per link since the table was installed, whether a policy balances onto it now, and
 * the last apply's outcome and duration.
 */
export function balancerMetricFamilies(s: BalancerStatus): MetricFamily[] {
  const per = (f: (l: LinkBalance) => number): MetricSample[] => s.links.map((l) => ({ labels: { link: l.name }, value: f(l) }));
  const families: MetricFamily[] = [
    { name: 'wanbraid_link_new_flows_total', help: 'New LAN flows pinned to the link (nft counter).', type: 'counter', samples: per((l) => l.newFlows) },
    { name: 'wanbraid_link_packets_total', help: 'Packets of the flows pinned to the link, both directions.', type: 'counter', samples: per((l) => l.packets) },
    { name: 'wanbraid_link_bytes_total', help: 'Bytes of the flows pinned to the link, both directions.', type: 'counter', samples: per((l) => l.bytes) },
    { name: 'wanbraid_link_in_use', help: '1 when some policy balances new flows onto the link now.', type: 'gauge', samples: per((l) => (l.inUse ? 1 : 0)) },
  ];
  if (s.lastApply) {
    families.push(
      { name: 'wanbraid_plan_apply_ok', help: '1 when the last apply of the plan to the kernel succeeded.', type: 'gauge', samples: [{ value: s.lastApply.ok ? 1 : 0 }] },
      { name: 'wanbraid_plan_apply_duration_seconds', help: 'Duration of the last apply of the plan to the kernel.', type: 'gauge', samples: [{ value: s.lastApply.durationMs / 1000 }] },
      { name: 'wanbraid_plan_apply_timestamp_seconds', help: 'Unix time of the last apply of the plan to the kernel.', type: 'gauge', samples: [{ value: Date.parse(s.lastApply.at) / 1000 }] },
    );
  }
  return families;
}
