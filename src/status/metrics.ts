/**
 * Prometheus text exposition format (version 0.0.4), pure: metric families in, text out. Any part
 * of the daemon contributes families (health: per-link state, RTT, loss, counters; the balancer:
 * its own counters) and the metrics server concatenates them through {@link formatMetrics}.
 *
 * Conventions: base units in names (`_seconds`, `_ratio`, `_bytes`), counters end in `_total`,
 * label values are escaped (backslash, double quote, newline), non-finite values are written as
 * `NaN`, `+Inf`, `-Inf`. A family with no samples still gets its HELP and TYPE lines.
 */
import { WanbraidError } from '../errors.js';

export type MetricType = 'gauge' | 'counter';

export interface MetricSample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: readonly MetricSample[];
}

/** Something that contributes families at scrape time (the balancer reads nft counters: async). */
export type MetricsCollector = () => MetricFamily[] | Promise<MetricFamily[]>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function formatMetrics(families: readonly MetricFamily[]): string {
  const seen = new Set<string>();
  let out = '';
  for (const f of families) {
    if (!NAME.test(f.name)) throw new WanbraidError('WB_INTERNAL', `metric name "${f.name}" is not valid`);
    if (seen.has(f.name)) throw new WanbraidError('WB_INTERNAL', `metric family "${f.name}" is contributed twice`);
    seen.add(f.name);
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) out += `${f.name}${formatLabels(s.labels)} ${formatValue(s.value)}\n`;
  }
  return out;
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (!labels) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL.test(k) || k.startsWith('__')) throw new WanbraidError('WB_INTERNAL', `metric label "${k}" is not valid`);
    parts.push(`${k}="${escapeLabel(v)}"`);
  }
  return parts.length ? `{${parts.join(',')}}` : '';
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
