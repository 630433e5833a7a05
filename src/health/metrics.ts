/**
 * Health's Prometheus families, from {@link LinkHealth}. Base units: seconds and ratios.
 *
 * - `wanbraid_link_state{link,state}` one-hot: 1 for the link's current state, 0 for the four others
 *   (`sum by (state)` counts links per state; alert on `wanbraid_link_state{state="offline"} == 1`);
 * - `wanbraid_link_up{link}`: 1 when usable for new flows (online or degraded with weight > 0);
 * - `wanbraid_link_weight{link}`: the weight balanced with now;
 * - `wanbraid_link_rtt_seconds`, `wanbraid_link_jitter_seconds`, `wanbraid_link_loss_ratio`: over
 *   the quality window (left out while unknown);
 * - `wanbraid_link_last_change_timestamp_seconds`: when the state last changed;
 * - `wanbraid_link_transitions_total{link}`: state changes;
 * - `wanbraid_probes_sent_total{link,target}`, `wanbraid_probes_failed_total{link,target}`;
 * - `wanbraid_link_suspicions_total{link}`, `wanbraid_link_suspicions_confirmed_total{link}`,
 *   `wanbraid_link_suspicions_cleared_total{link}`: the passive signal's suspicions and outcomes.
 */
import { LINK_STATES, isUsable } from '../model.js';
import type { MetricFamily, MetricSample } from '../status/metrics.js';
import type { LinkHealth } from './status.js';

export function healthMetricFamilies(links: readonly LinkHealth[]): MetricFamily[] {
  const per = (f: (l: LinkHealth) => number | undefined): MetricSample[] =>
    links.flatMap((l) => {
      const v = f(l);
      return v === undefined ? [] : [{ labels: { link: l.name }, value: v }];
    });
  const perTarget = (f: (t: LinkHealth['targets'][number]) => number): MetricSample[] =>
    links.flatMap((l) => l.targets.map((t) => ({ labels: { link: l.name, target: t.target }, value: f(t) })));
  return [
    {
      name: 'wanbraid_link_state',
      help: 'Link state, one-hot: 1 for the current state (probing, online, degraded, offline, disabled).',
      type: 'gauge',
      samples: links.flatMap((l) => LINK_STATES.map((s) => ({ labels: { link: l.name, state: s }, value: l.state === s ? 1 : 0 }))),
    },
    { name: 'wanbraid_link_up', help: '1 when the link takes new flows (online or degraded with a weight).', type: 'gauge', samples: per((l) => (isUsable(l) ? 1 : 0)) },
    { name: 'wanbraid_link_weight', help: 'Weight the link is balanced with now.', type: 'gauge', samples: per((l) => l.weight) },
    { name: 'wanbraid_link_rtt_seconds', help: 'Mean probe round-trip time over the quality window.', type: 'gauge', samples: per((l) => sec(l.rttMs)) },
    { name: 'wanbraid_link_jitter_seconds', help: 'Mean absolute difference of consecutive RTTs per target over the quality window.', type: 'gauge', samples: per((l) => sec(l.jitterMs)) },
    { name: 'wanbraid_link_loss_ratio', help: 'Share of probes not answered within the timeout over the quality window.', type: 'gauge', samples: per((l) => (l.lossPct === undefined ? undefined : l.lossPct / 100)) },
    { name: 'wanbraid_link_last_change_timestamp_seconds', help: 'Unix time of the last state change.', type: 'gauge', samples: per((l) => l.since / 1000) },
    { name: 'wanbraid_link_transitions_total', help: 'State changes of the link.', type: 'counter', samples: per((l) => l.transitions) },
    { name: 'wanbraid_probes_sent_total', help: 'Probes sent.', type: 'counter', samples: perTarget((t) => t.sent) },
    { name: 'wanbraid_link_suspicions_total', help: 'Times the passive signal made the link suspect (traffic out, nothing in).', type: 'counter', samples: per((l) => l.passive.suspicions) },
    { name: 'wanbraid_link_suspicions_confirmed_total', help: 'Suspicions confirmed by a lost burst of probes (the link went offline).', type: 'counter', samples: per((l) => l.passive.confirmed) },
    { name: 'wanbraid_link_suspicions_cleared_total', help: 'Suspicions cleared by an answered burst or returning traffic.', type: 'counter', samples: per((l) => l.passive.cleared) },
    { name: 'wanbraid_probes_failed_total', help: 'Probes not answered within the timeout, or failed.', type: 'counter', samples: perTarget((t) => t.failed) },
  ];
}

const sec = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
