/**
 * The benchmark report's figures, pure: from the parsed bench/results/*.json to Vega-Lite specs
 * (render.ts turns them into SVG). Each figure says which results file and fields it reads; a
 * figure whose series is not in the results (an older run) is returned as `missing` with the
 * reason, never drawn from invented data.
 *
 * Units on the axes: Mbit/s (10^6 bit/s) of goodput, milliseconds.
 */

/** The results files by benchmark name (`relay` for bench/results/relay.json). */
export type Results = Readonly<Record<string, unknown>>;

export interface Figure {
  /** File name without extension: docs/img/bench/NAME.svg. */
  name: string;
  title: string;
  /** A Vega-Lite spec (data inline). */
  spec: Record<string, unknown>;
}

export interface Missing {
  name: string;
  missing: string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const data = (r: Results, bench: string): Obj | undefined => obj(obj(r[bench])?.data);

const FONT = { font: 'sans-serif', labelFontSize: 11, titleFontSize: 12 };
const CONFIG = { axis: FONT, legend: FONT, header: FONT, title: { font: 'sans-serif', fontSize: 14 }, view: { stroke: null } };

/** The relay cases of relay.json in the order of the report, with their labels. */
export const RELAY_CASES: readonly [string, string][] = [
  ['equal', '2 × 40 Mbit/s'],
  ['unequal', '40 + 8 Mbit/s'],
  ['rtt', 'RTT 10 / 60 ms'],
  ['rtt-unequal', '40 + 8, RTT 10 / 60'],
  ['long', 'RTT 10 / 300 ms'],
  ['bad', 'loss, jitter'],
];

export interface ThroughputRow {
  case: string;
  direction: string;
  method: 'relay' | 'MPTCP' | 'best single link';
  mbps: number;
}

/** relay.json `data[case].medianBps[direction][way]`: relay, MPTCP and the best single link, per case and direction. */
export function relayThroughputRows(r: Results): ThroughputRow[] {
  const d = data(r, 'relay');
  const rows: ThroughputRow[] = [];
  if (!d) return rows;
  for (const [key, label] of RELAY_CASES) {
    const med = obj(obj(d[key])?.medianBps);
    if (!med) continue;
    for (const [direction, ways] of Object.entries(med)) {
      for (const [way, m] of Object.entries(obj(ways) ?? {})) {
        const dir = direction === way ? direction : `${direction}: ${way}`;
        const v = obj(m) ?? {};
        for (const [field, method] of [['relay', 'relay'], ['mptcp', 'MPTCP'], ['single', 'best single link']] as const) {
          const bps = num(v[field]);
          if (bps !== undefined) rows.push({ case: label, direction: dir, method, mbps: bps / 1e6 });
        }
      }
    }
  }
  return rows;
}

export interface DetectRow {
  fault: string;
  source: string;
  ms: number;
}

/**
 * Detection times, one row per trial: health.json (`blackhole`/`carrier`.samples[].detectMs: probe
 * verdict), daemon-failover.json (`blackhole`/`carrier`.samples.detect: the whole daemon, fault to
 * its event) and health-unequal.json (`blackholeLte`.samples[].detectMs: on an LTE-like link).
 */
export function detectionRows(r: Results): DetectRow[] {
  const rows: DetectRow[] = [];
  const h = data(r, 'health');
  for (const fault of ['blackhole', 'carrier']) {
    for (const s of (obj(h?.[fault])?.samples as unknown[] | undefined) ?? []) {
      const ms = num(obj(s)?.detectMs);
      if (ms !== undefined) rows.push({ fault, source: 'health (probes)', ms });
    }
  }
  const df = data(r, 'daemon-failover');
  for (const fault of ['blackhole', 'carrier']) {
    for (const v of (obj(obj(df?.[fault])?.samples)?.detect as unknown[] | undefined) ?? []) {
      const ms = num(v);
      if (ms !== undefined) rows.push({ fault, source: 'whole daemon', ms });
    }
  }
  const hu = data(r, 'health-unequal');
  for (const s of (obj(hu?.blackholeLte)?.samples as unknown[] | undefined) ?? []) {
    const ms = num(obj(s)?.detectMs);
    if (ms !== undefined) rows.push({ fault: 'blackhole', source: 'health, LTE-like link', ms });
  }
  return rows;
}

/** Rate (Mbit/s) of each step between cumulative byte counts [ms, bytes]; a counter that went back (a new connection) starts again from 0. */
export function rates(ticks: readonly (readonly [number, number])[]): { ms: number; mbps: number }[] {
  const out: { ms: number; mbps: number }[] = [];
  for (let i = 1; i < ticks.length; i++) {
    const [t0, b0] = ticks[i - 1]!;
    const [t1, b1] = ticks[i]!;
    if (t1 <= t0) continue;
    const bytes = b1 >= b0 ? b1 - b0 : b1;
    out.push({ ms: t1, mbps: (bytes * 8) / ((t1 - t0) / 1000) / 1e6 });
  }
  return out;
}

const CUTS: readonly [string, string][] = [
  ['cut-carrier-down', 'carrier down'],
  ['cut-blackhole', 'blackhole'],
  ['cut-carrier-down-rtt', 'carrier down, RTT 10 / 60 ms'],
  ['cut-blackhole-rtt', 'blackhole, RTT 10 / 60 ms'],
];

function ticksOf(v: unknown): [number, number][] {
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is [number, number] => Array.isArray(x) && num(x[0]) !== undefined && num(x[1]) !== undefined);
}

export interface CutRow {
  case: string;
  ms: number;
  mbps: number;
  path?: string;
}

/** relay.json cut cases: the download's delivered rate per 100 ms tick (`ticks`), and the cut and restore times. */
export function cutRows(r: Results): { rows: CutRow[]; marks: { case: string; ms: number; what: string }[] } {
  const d = data(r, 'relay');
  const rows: CutRow[] = [];
  const marks: { case: string; ms: number; what: string }[] = [];
  for (const [key, label] of CUTS) {
    const c = obj(d?.[key]);
    if (!c) continue;
    for (const x of rates(ticksOf(c.ticks))) rows.push({ case: label, ...x });
    const cut = num(c.cutAtMs);
    const restore = num(c.restoreAtMs);
    if (cut !== undefined) marks.push({ case: label, ms: cut, what: 'cut' });
    if (restore !== undefined) marks.push({ case: label, ms: restore, what: 'restored' });
  }
  return { rows, marks };
}

/** relay.json cut cases' `pathTicks` ([ms, {path: bytes sent by the exit}]): each path's rate per step. */
export function cutPathRows(r: Results): CutRow[] {
  const d = data(r, 'relay');
  const rows: CutRow[] = [];
  for (const [key, label] of CUTS) {
    const pt = obj(d?.[key])?.pathTicks;
    if (!Array.isArray(pt)) continue;
    const names = new Set<string>();
    for (const t of pt) for (const n of Object.keys(obj((t as unknown[])[1]) ?? {})) names.add(n);
    for (const name of [...names].sort()) {
      // A path absent from a sample (down) counts as 0 bytes there: its next connection starts from 0.
      const series = pt.map((t) => [num((t as unknown[])[0]) ?? 0, num(obj((t as unknown[])[1])?.[name]) ?? 0] as [number, number]);
      for (const x of rates(series)) rows.push({ case: label, path: name, ...x });
    }
  }
  return rows;
}

/**
 * daemon-failover.json `throughput`: bytes each link received (`ticks`: [ms, {link: rx bytes}]),
 * as each link's rate per step, and the fault, the daemon's offline event and the clear as marks.
 */
export function failoverRows(r: Results): { rows: { link: string; ms: number; mbps: number }[]; marks: { ms: number; what: string; py: number }[] } {
  const t = obj(data(r, 'daemon-failover')?.throughput);
  const rows: { link: string; ms: number; mbps: number }[] = [];
  const marks: { ms: number; what: string; py: number }[] = [];
  if (!t || !Array.isArray(t.ticks)) return { rows, marks };
  const names = new Set<string>();
  for (const x of t.ticks) for (const n of Object.keys(obj((x as unknown[])[1]) ?? {})) names.add(n);
  for (const link of [...names].sort()) {
    const series = t.ticks.map((x) => [num((x as unknown[])[0]) ?? 0, num(obj((x as unknown[])[1])?.[link]) ?? 0] as [number, number]);
    for (const v of rates(series)) rows.push({ link, ...v });
  }
  // py: the label's height in pixels from the top, alternating so that close marks do not overlap.
  for (const [field, what, py] of [['faultAtMs', 'blackhole', 8], ['offlineAtMs', 'offline (daemon)', 22], ['clearAtMs', 'cleared', 8]] as const) {
    const ms = num(t[field]);
    if (ms !== undefined) marks.push({ ms, what, py });
  }
  return { rows, marks };
}

/** Every figure the results allow, and the ones they do not (with why). */
export function figures(r: Results): { figures: Figure[]; missing: Missing[] } {
  const out: Figure[] = [];
  const missing: Missing[] = [];

  const tp = relayThroughputRows(r);
  if (tp.length > 0) {
    out.push({
      name: 'relay-throughput',
      title: 'One TCP flow: relay vs MPTCP vs the best single link (median of trials)',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: 'One TCP flow: relay vs in-kernel MPTCP vs the best single link',
        config: CONFIG,
        data: { values: tp },
        facet: { row: { field: 'case', type: 'nominal', title: null, sort: RELAY_CASES.map(([, l]) => l), header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' } } },
        spec: {
          width: 420,
          height: { step: 12 },
          mark: { type: 'bar' },
          encoding: {
            y: { field: 'direction', type: 'nominal', title: null },
            yOffset: { field: 'method', type: 'nominal', sort: ['relay', 'MPTCP', 'best single link'] },
            x: { field: 'mbps', type: 'quantitative', title: 'goodput (Mbit/s)' },
            color: { field: 'method', type: 'nominal', sort: ['relay', 'MPTCP', 'best single link'], scale: { range: ['#1f77b4', '#ff7f0e', '#9e9e9e'] }, legend: { orient: 'top', title: null } },
          },
        },
        resolve: { scale: { y: 'independent' } },
      },
    });
  } else missing.push({ name: 'relay-throughput', missing: 'bench/results/relay.json has no medianBps per case' });

  const det = detectionRows(r);
  if (det.length > 0) {
    out.push({
      name: 'detection-times',
      title: 'Time from a fault to its detection, one mark per trial',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: 'Fault to detection, one mark per trial (log scale)',
        config: CONFIG,
        width: 460,
        height: { step: 26 },
        data: { values: det },
        transform: [{ calculate: "datum.fault + ' · ' + datum.source", as: 'series' }],
        mark: { type: 'tick', thickness: 2, size: 18, opacity: 0.7 },
        encoding: {
          y: { field: 'series', type: 'nominal', title: null, axis: { labelLimit: 320 } },
          x: { field: 'ms', type: 'quantitative', scale: { type: 'log', nice: false, domain: [2, 3000] }, title: 'milliseconds from the fault' },
          color: { field: 'fault', type: 'nominal', legend: null, scale: { range: ['#d62728', '#2ca02c'] } },
        },
      },
    });
  } else missing.push({ name: 'detection-times', missing: 'no detection samples in health.json, daemon-failover.json or health-unequal.json' });

  const cut = cutRows(r);
  if (cut.rows.length > 0) {
    out.push({
      name: 'relay-cut',
      title: 'One relayed download through a path cut: delivered rate per 100 ms',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: 'One relayed download (2 × 40 Mbit/s) while path 2 is cut and restored',
        config: CONFIG,
        data: { values: cut.rows },
        facet: { row: { field: 'case', type: 'nominal', title: null, sort: CUTS.map(([, l]) => l), header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' } } },
        spec: {
          width: 520,
          height: 90,
          layer: [
            { mark: { type: 'line', interpolate: 'step-before', strokeWidth: 1 }, encoding: { x: { field: 'ms', type: 'quantitative', title: 'ms since the transfer started' }, y: { field: 'mbps', type: 'quantitative', title: 'Mbit/s' } } },
            {
              data: { values: cut.marks },
              mark: { type: 'rule', strokeDash: [4, 3], color: '#d62728' },
              encoding: { x: { field: 'ms', type: 'quantitative' } },
            },
          ],
        },
      },
    });
  } else missing.push({ name: 'relay-cut', missing: 'bench/results/relay.json has no cut cases with ticks' });

  const paths = cutPathRows(r);
  if (paths.length > 0) {
    out.push({
      name: 'relay-cut-paths',
      title: 'Per-path share of the relayed download through a path cut',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: "Each path's part of the download (bytes the exit sent on it per 100 ms)",
        config: CONFIG,
        data: { values: paths },
        facet: { row: { field: 'case', type: 'nominal', title: null, sort: CUTS.map(([, l]) => l), header: { labelAngle: 0, labelAlign: 'left', labelFontWeight: 'bold' } } },
        spec: {
          width: 520,
          height: 90,
          mark: { type: 'area', interpolate: 'step-before' },
          encoding: {
            x: { field: 'ms', type: 'quantitative', title: 'ms since the transfer started' },
            y: { field: 'mbps', type: 'quantitative', stack: 'zero', title: 'Mbit/s' },
            color: { field: 'path', type: 'nominal', legend: { orient: 'top', title: null } },
          },
        },
      },
    });
  } else missing.push({ name: 'relay-cut-paths', missing: 'bench/results/relay.json cut cases have no pathTicks (recorded from the next `npm run bench -- relay`)' });

  const fo = failoverRows(r);
  if (fo.rows.length > 0) {
    out.push({
      name: 'failover-per-link',
      title: "Each link's throughput seen from the LAN through a failover",
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: "Each link's download through the router, wan1 blackholed then cleared",
        config: CONFIG,
        width: 560,
        height: 180,
        layer: [
          {
            data: { values: fo.rows },
            mark: { type: 'area', interpolate: 'step-before' },
            encoding: {
              x: { field: 'ms', type: 'quantitative', title: 'ms since the downloads started' },
              y: { field: 'mbps', type: 'quantitative', stack: 'zero', title: 'Mbit/s received on the link' },
              color: { field: 'link', type: 'nominal', legend: { orient: 'top', title: null } },
            },
          },
          {
            data: { values: fo.marks },
            mark: { type: 'rule', strokeDash: [4, 3], color: '#333' },
            encoding: { x: { field: 'ms', type: 'quantitative' } },
          },
          {
            data: { values: fo.marks },
            mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
            encoding: { x: { field: 'ms', type: 'quantitative' }, y: { field: 'py', type: 'quantitative', scale: null }, text: { field: 'what' } },
          },
        ],
      },
    });
  } else missing.push({ name: 'failover-per-link', missing: 'bench/results/daemon-failover.json has no throughput part (recorded from the next `npm run bench -- daemon-failover`)' });
  return { figures: out, missing };
}
