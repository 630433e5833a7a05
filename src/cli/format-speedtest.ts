/**
 * Human output of `wanbraid speedtest` (pure): the result table, the one-line summary that
 * `wanbraid status` shows for the last test, and the progress bar line.
 */
import type { DirectionResult, Progress, SpeedTestResult } from '../relay/speedtest-plan.js';
import { table } from './table.js';

/** "19.05 Mbit/s" (two decimals below 100, none above), "-" when unknown. */
export function formatMbps(bps: number | undefined): string {
  if (bps === undefined || !Number.isFinite(bps)) return '-';
  const m = bps / 1e6;
  return `${m < 100 ? m.toFixed(2) : Math.round(m)} Mbit/s`;
}

const pct = (v: number | undefined) => (v === undefined ? '' : ` (${Math.round(v * 100)}% of the sum)`);
const cell = (d: DirectionResult, share?: number) => (d.bps !== undefined ? `${formatMbps(d.bps)}${pct(share)}` : 'failed');

export function formatSpeedTest(r: SpeedTestResult): string {
  const rows = r.paths.map((p) => [p.path, p.link ?? '-', cell(p.down), cell(p.up)]);
  if (r.striped) rows.push([`striped (${r.striped.paths.length > 0 ? r.striped.paths.join('+') : 'none'})`, '', cell(r.striped.down, r.striped.down.share), cell(r.striped.up, r.striped.up.share)]);
  const out = [`speed test of relay entry ${r.entry}, ${r.seconds} s per phase, ${r.time}`, table(['PATH', 'LINK', 'DOWNLOAD', 'UPLOAD'], rows)];
  const errors: string[] = [];
  for (const p of r.paths) for (const d of ['down', 'up'] as const) if (p[d].error) errors.push(`${p.path} ${d === 'down' ? 'download' : 'upload'}: ${p[d].error}`);
  if (r.striped) for (const d of ['down', 'up'] as const) if (r.striped[d].error) errors.push(`striped ${d === 'down' ? 'download' : 'upload'}: ${r.striped[d].error}`);
  if (errors.length > 0) out.push(errors.join('\n'));
  return out.join('\n');
}

/** Whether every phase of the result gave a rate. */
export function speedTestComplete(r: SpeedTestResult): boolean {
  const all = r.paths.flatMap((p) => [p.down, p.up]).concat(r.striped ? [r.striped.down, r.striped.up] : []);
  return all.every((d) => d.bps !== undefined);
}

/** One line for `wanbraid status`: "last speed test (entry lanrelay, 2026-...): wan1 19.1/18.9, wan2 ..., striped 37.8/37.5 Mbit/s (99%/98%)". */
export function speedTestSummary(r: SpeedTestResult): string {
  const m = (v: number | undefined) => (v === undefined ? '-' : (v / 1e6).toFixed(1));
  const parts = r.paths.map((p) => `${p.path} ${m(p.down.bps)}/${m(p.up.bps)}`);
  if (r.striped) {
    const s = r.striped;
    const sh = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v * 100)}%`);
    parts.push(`striped ${m(s.down.bps)}/${m(s.up.bps)} (${sh(s.down.share)}/${sh(s.up.share)} of the sum)`);
  }
  return `last speed test (entry ${r.entry}, ${r.time}), Mbit/s down/up: ${parts.join(', ')}`;
}

/** `[=========>          ]  45%  wan1 download  18.90 Mbit/s`, `width` cells of bar. */
export function progressLine(p: Progress, width = 30): string {
  const done = Math.max(0, Math.min(1, p.done));
  const full = Math.floor(done * width);
  const bar = '='.repeat(full) + (full < width ? '>' : '') + ' '.repeat(Math.max(0, width - full - 1));
  return `[${bar}] ${String(Math.round(done * 100)).padStart(3)}%  ${p.label}${p.bps !== undefined ? `  ${formatMbps(p.bps)}` : ''}`;
}
