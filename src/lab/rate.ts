/**
 * Link rates of the lab: parsing `40mbit`-style text (tc's units) and choosing the tbf
 * parameters that shape one direction of a link. Pure.
 *
 * Rates are bits per second of layer-2 frames, as tc counts them: TCP goodput through a link is
 * at most ~95.6% of its rate (1448 payload bytes per 1514-byte frame). The tbf queue holds
 * {@link TBF_LATENCY_MS} of traffic (a modest, realistic buffer) and the bucket at least 1 ms of
 * traffic and never less than {@link TBF_MIN_BURST_BYTES}, so that iperf3 reaches the goodput
 * ceiling on this machine from 1 Mbit/s to 1 Gbit/s (measured when the lab was built).
 */
import { WanbraidError } from '../errors.js';

/** One direction's rate in bits per second; `null` means unlimited (no qdisc). */
export type Rate = number | null;

/** Both directions of a link, seen from the customer: `down` toward the router/entry, `up` away from it. */
export interface LinkRate {
  down: Rate;
  up: Rate;
}

/**
 * How a caller gives a link's rate: `'40mbit'` (both directions), `{ down, up }`, a number of
 * bit/s, or `null`/`undefined`/`'unlimited'` for no limit.
 */
export type RateSpec = string | number | null | undefined | { down: string | number | null; up: string | number | null };

export const UNLIMITED: LinkRate = { down: null, up: null };

const UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, kibit: 1024, mibit: 1 << 20, gibit: 1 << 30, bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9 };

/** Lowest rate the lab accepts (tbf works below it, but nothing useful does). */
export const MIN_RATE = 64_000;
/** Highest: beyond what this machine forwards. */
export const MAX_RATE = 100e9;

function labError(message: string): WanbraidError {
  return new WanbraidError('WB_LAB', message);
}

/** `40mbit`, `1.5gbit`, `512kbit`, `10mbps` (bytes, as in tc), or a number of bit/s. */
export function parseRate(v: string | number, what = 'rate'): number {
  let bits: number;
  if (typeof v === 'number') bits = v;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(v);
    const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw labError(`${what}: "${v}" is not a rate (like 40mbit, 512kbit, 1gbit)`);
    bits = Number(m[1]) * unit;
  }
  if (!Number.isFinite(bits) || bits < MIN_RATE || bits > MAX_RATE) {
    throw labError(`${what}: ${String(v)} is out of range (${MIN_RATE / 1000}kbit to ${MAX_RATE / 1e9}gbit)`);
  }
  return Math.round(bits);
}

function oneWay(v: string | number | null, what: string): Rate {
  if (v === null || v === 'unlimited' || v === 'none' || v === '-') return null;
  return parseRate(v, what);
}

export function resolveRate(spec: RateSpec, what = 'rate'): LinkRate {
  if (spec === null || spec === undefined) return UNLIMITED;
  if (typeof spec === 'object') return { down: oneWay(spec.down, `${what} (down)`), up: oneWay(spec.up, `${what} (up)`) };
  const r = oneWay(spec, what);
  return { down: r, up: r };
}

/**
 * Per-link rates for `count` links from an optional list (missing entries are unlimited).
 * `what` names the list in errors, e.g. `rates`.
 */
export function resolveRates(specs: readonly RateSpec[] | undefined, count: number, what = 'rates'): LinkRate[] {
  const list = specs ?? [];
  if (list.length > count) throw labError(`${what}: ${list.length} rates given for ${count} link${count === 1 ? '' : 's'}`);
  return Array.from({ length: count }, (_, k) => resolveRate(list[k], `${what}[${k}]`));
}

/**
 * The CLI's form: comma-separated per link, each `RATE` or `DOWN/UP`, `-` for unlimited:
 * `40mbit,40mbit,8mbit`, `100mbit/10mbit,-`.
 */
export function parseRateList(text: string, what = '--rates'): RateSpec[] {
  return text.split(',').map((item, k) => {
    const t = item.trim();
    if (!t) throw labError(`${what}: entry ${k + 1} is empty`);
    const parts = t.split('/');
    if (parts.length > 2) throw labError(`${what}: "${t}" has more than one "/" (use DOWN/UP)`);
    if (parts.length === 2) return { down: parts[0]!.trim(), up: parts[1]!.trim() };
    return t;
  });
}

/** Render a rate the way tc prints it (`40mbit`, `1gbit`, `512kbit`, `12345bit`). */
export function formatRate(r: Rate): string {
  if (r === null) return 'unlimited';
  for (const [unit, f] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) {
    if (r >= f && r % f === 0) return `${r / f}${unit}`;
  }
  if (r >= 1e6) return `${(r / 1e6).toFixed(3).replace(/\.?0+$/, '')}mbit`;
  return `${r}bit`;
}

export function formatLinkRate(r: LinkRate): string {
  return r.down === r.up ? formatRate(r.down) : `${formatRate(r.down)}/${formatRate(r.up)}`;
}

/** tbf queue depth, in milliseconds of traffic at the link rate. */
export const TBF_LATENCY_MS = 20;
/** Smallest tbf bucket (bytes): a few full-size frames, so segmented GSO packets pass at line rate. */
export const TBF_MIN_BURST_BYTES = 32 * 1024;

export interface TbfParams {
  /** bit/s */
  rate: number;
  /** bytes */
  burst: number;
  /** milliseconds */
  latency: number;
}

export function tbfParams(rate: number): TbfParams {
  return { rate, burst: Math.max(TBF_MIN_BURST_BYTES, Math.ceil(rate / 8 / 1000)), latency: TBF_LATENCY_MS };
}

/** The `tc` batch line that shapes egress of `dev` to `rate` (or removes shaping for `null`). */
export function tbfLine(dev: string, rate: Rate): string | undefined {
  if (rate === null) return undefined;
  const p = tbfParams(rate);
  return `qdisc replace dev ${dev} root tbf rate ${p.rate}bit burst ${p.burst} latency ${p.latency}ms`;
}
