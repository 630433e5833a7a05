/**
 * The last speed test as Prometheus metric families (pure). Rates in bytes per second of payload
 * (base units, like node_exporter); a phase that failed has no sample. Every family is present
 * (HELP and TYPE) even before the first test, so dashboards can be built against them.
 */
import type { MetricFamily, MetricSample } from '../status/metrics.js';
import type { SpeedTestResult } from './speedtest-plan.js';

export function speedTestMetricFamilies(r: SpeedTestResult | undefined): MetricFamily[] {
  const link: MetricSample[] = [];
  const striped: MetricSample[] = [];
  const shares: MetricSample[] = [];
  const time: MetricSample[] = [];
  if (r) {
    for (const p of r.paths) {
      for (const direction of ['down', 'up'] as const) {
        const bps = p[direction].bps;
        if (bps !== undefined) link.push({ labels: { entry: r.entry, path: p.path, direction }, value: bps / 8 });
      }
    }
    for (const direction of ['down', 'up'] as const) {
      const s = r.striped?.[direction];
      if (s?.bps !== undefined) striped.push({ labels: { entry: r.entry, direction }, value: s.bps / 8 });
      if (s?.share !== undefined) shares.push({ labels: { entry: r.entry, direction }, value: s.share });
    }
    time.push({ labels: { entry: r.entry }, value: Date.parse(r.time) / 1000 });
  }
  return [
    { name: 'wanbraid_speedtest_path_bytes_per_second', help: 'Last speed test: payload rate of each relay path alone, per direction.', type: 'gauge', samples: link },
    { name: 'wanbraid_speedtest_striped_bytes_per_second', help: 'Last speed test: payload rate of one flow striped over all paths, per direction.', type: 'gauge', samples: striped },
    { name: 'wanbraid_speedtest_striped_share_ratio', help: 'Last speed test: striped rate over the sum of the paths alone, per direction.', type: 'gauge', samples: shares },
    { name: 'wanbraid_speedtest_timestamp_seconds', help: 'When the last speed test finished (Unix time).', type: 'gauge', samples: time },
  ];
}
