/**
 * Quality limits with hysteresis, and the weight a link is balanced with.
 *
 * A link that answers probes is `degraded` when a figure of its quality window goes *above* its
 * limit (`maxLossPct`, `maxRttMs`, `maxJitterMs`), and back to `online` only when every limited
 * figure is *below* its recover threshold (`recover*`, default half the limit for loss and 80 % of
 * it for RTT and jitter). Nothing is judged before the window holds {@link MIN_QUALITY_SAMPLES}
 * results, so one lost probe right after a link came up does not read as 100 % loss. Pure.
 */
import type { LinkConfig, ProbeConfig } from '../config/schema.js';
import type { LinkState, StateReason } from '../model.js';
import type { WindowStats } from './window.js';

export const MIN_QUALITY_SAMPLES = 10;

type Metric = 'loss' | 'rtt' | 'jitter';
type Limits = NonNullable<ProbeConfig['quality']>;

interface Threshold {
  metric: Metric;
  max: number;
  recover: number;
  value: (s: WindowStats) => number | undefined;
}

export function thresholds(q: Limits | undefined): Threshold[] {
  if (!q) return [];
  const out: Threshold[] = [];
  if (q.maxLossPct !== undefined)
    out.push({ metric: 'loss', max: q.maxLossPct, recover: q.recoverLossPct ?? q.maxLossPct * 0.5, value: (s) => s.lossPct });
  if (q.maxRttMs !== undefined)
    out.push({ metric: 'rtt', max: q.maxRttMs, recover: q.recoverRttMs ?? q.maxRttMs * 0.8, value: (s) => s.rttMeanMs });
  if (q.maxJitterMs !== undefined)
    out.push({ metric: 'jitter', max: q.maxJitterMs, recover: q.recoverJitterMs ?? q.maxJitterMs * 0.8, value: (s) => s.jitterMs });
  return out;
}

/**
 * The quality verdict for a link that answers probes: `undefined` = no change; otherwise the new
 * degraded flag with its typed reason (the figure, its measured value and the threshold crossed).
 */
export function judgeQuality(
  q: Limits | undefined,
  stats: WindowStats,
  degraded: boolean,
): { degraded: boolean; reason: StateReason } | undefined {
  const ts = thresholds(q);
  if (ts.length === 0) return degraded ? { degraded: false, reason: { kind: 'reconfigured' } } : undefined;
  if (stats.samples < MIN_QUALITY_SAMPLES) return undefined;
  if (!degraded) {
    for (const t of ts) {
      const v = t.value(stats);
      if (v !== undefined && v > t.max) return { degraded: true, reason: { kind: 'quality', metric: t.metric, value: v, threshold: t.max } };
    }
    return undefined;
  }
  let worst: { t: Threshold; v: number } | undefined;
  for (const t of ts) {
    const v = t.value(stats);
    if (v === undefined) continue;
    if (v >= t.recover) return undefined;
    if (!worst || v / Math.max(t.recover, 1e-9) > worst.v / Math.max(worst.t.recover, 1e-9)) worst = { t, v };
  }
  const r = worst ?? { t: ts[0]!, v: ts[0]!.value(stats) ?? 0 };
  return { degraded: false, reason: { kind: 'quality-recovered', metric: r.t.metric, value: r.v, threshold: r.t.recover } };
}

/**
 * The weight the balancer uses now: the configured weight when online (or forced up), per
 * `degraded.action` when degraded (keep it, reduce it to `degraded.weight` — never above the
 * configured one —, or 0 = remove), 0 in every other state.
 */
export function effectiveWeight(state: LinkState, link: Pick<LinkConfig, 'weight' | 'degraded'>): number {
  switch (state) {
    case 'online':
      return link.weight;
    case 'degraded':
      switch (link.degraded.action) {
        case 'keep':
          return link.weight;
        case 'reduce':
          return Math.min(link.weight, link.degraded.weight);
        case 'remove':
          return 0;
      }
      return 0;
    case 'probing':
    case 'offline':
    case 'disabled':
      return 0;
  }
}
