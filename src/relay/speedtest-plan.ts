/**
 * The pure parts of `wanbraid speedtest`: the schedule of its phases, the rate of a phase from
 * its byte samples, and the result it reports. No I/O; the runner (speedtest.ts) drives the
 * sessions and flows.
 *
 * Units: times in milliseconds (the engine's monotonic clock), sizes in bytes, rates in bits per
 * second of test-stream payload (goodput: no TCP/IP, relay framing or encryption overhead).
 */
import { WanbraidError } from '../errors.js';

/** Seconds per phase: the default, and the bounds the daemon accepts (the exit caps a stream at 30 s anyway). */
export const DEFAULT_SECONDS = 4;
export const MIN_SECONDS = 1;
export const MAX_SECONDS = 20;

export type Direction = 'down' | 'up';

/** One step of the test: one direction over one path alone, or over all of them striped. */
export interface Phase {
  /** Path names the phase's session connects (one: a link alone; all: striped). */
  paths: string[];
  /** `link`: one path alone; `striped`: every path that worked alone. */
  kind: 'link' | 'striped';
  direction: Direction;
  /** How long the stream is asked to run (ms). */
  ms: number;
}

/** Each path alone (download, then upload), then both directions striped over all of them. */
export function schedule(paths: readonly string[], seconds: number): Phase[] {
  const ms = Math.round(seconds * 1000);
  const out: Phase[] = [];
  for (const p of paths) for (const direction of ['down', 'up'] as const) out.push({ paths: [p], kind: 'link', direction, ms });
  if (paths.length > 1) for (const direction of ['down', 'up'] as const) out.push({ paths: [...paths], kind: 'striped', direction, ms });
  return out;
}

/** Cumulative payload bytes at a time (ms). */
export interface Sample {
  t: number;
  bytes: number;
}

/** Part of a phase not counted: the start, while TCP and the path's estimators ramp up (ms). */
export function warmupMs(phaseMs: number): number {
  return Math.min(1000, Math.round(phaseMs / 4));
}

export interface Measured {
  /** The sustained rate (bit/s): the trimmed mean of the window's intervals ({@link measure}). */
  bps: number;
  /** Plain bytes over time of the whole window (bit/s). */
  meanBps: number;
  /** Bytes and length (ms) of the window. */
  bytes: number;
  ms: number;
}

/** Intervals the window is cut into to find the sustained rate (ms, at least). */
export const INTERVAL_MS = 200;
/** Shares of those intervals set aside: the slowest and the fastest. */
export const TRIM_LOW = 0.2;
export const TRIM_HIGH = 0.1;

/**
 * The rate of a phase from its samples (increasing in time). The window runs from the first
 * sample at least `warmup` ms after the stream started (the sample before its first byte) to the
 * last sample. It is cut into intervals of at least {@link INTERVAL_MS}; the slowest
 * {@link TRIM_LOW} and the fastest {@link TRIM_HIGH} of them are set aside and the rest averaged
 * (weighted by their length). Public speed tests trim their samples the same way, so that a
 * momentary stall of a busy host (and the catch-up burst after it) does not decide the figure;
 * the plain mean is reported beside it. Undefined when nothing arrived or the window is shorter
 * than {@link INTERVAL_MS}.
 */
export function measure(samples: readonly Sample[], warmup: number): Measured | undefined {
  const first = samples.findIndex((s) => s.bytes > 0);
  if (first < 0) return undefined;
  const startIdx = Math.max(0, first - 1);
  const t0 = samples[startIdx]!.t;
  const last = samples.length - 1;
  let from = samples.findIndex((s) => s.t >= t0 + warmup);
  if (from < 0 || samples[last]!.t - samples[from]!.t < INTERVAL_MS) from = startIdx;
  const ms = samples[last]!.t - samples[from]!.t;
  if (ms < INTERVAL_MS) return undefined;
  const bytes = samples[last]!.bytes - samples[from]!.bytes;
  // Intervals of at least INTERVAL_MS, from sample to sample; a short tail joins the last one.
  const iv: { ms: number; bytes: number }[] = [];
  let a = from;
  for (let k = from + 1; k <= last; k++) {
    if (samples[k]!.t - samples[a]!.t >= INTERVAL_MS || k === last) {
      const cur = { ms: samples[k]!.t - samples[a]!.t, bytes: samples[k]!.bytes - samples[a]!.bytes };
      const prev = iv[iv.length - 1];
      if (cur.ms < INTERVAL_MS && prev) {
        prev.ms += cur.ms;
        prev.bytes += cur.bytes;
      } else iv.push(cur);
      a = k;
    }
  }
  const sorted = [...iv].sort((x, y) => x.bytes / x.ms - y.bytes / y.ms);
  const low = Math.floor(sorted.length * TRIM_LOW);
  const high = Math.floor(sorted.length * TRIM_HIGH);
  const kept = sorted.slice(low, sorted.length - high);
  const keptMs = kept.reduce((x, i) => x + i.ms, 0);
  const keptBytes = kept.reduce((x, i) => x + i.bytes, 0);
  const meanBps = (bytes * 8 * 1000) / ms;
  return { bps: keptMs > 0 ? (keptBytes * 8 * 1000) / keptMs : meanBps, meanBps, bytes, ms };
}

/** One direction of one phase as reported. */
export interface DirectionResult {
  /** Sustained bit/s of payload ({@link measure}); undefined when the phase failed. */
  bps?: number;
  /** Plain mean over the measured window (bit/s). */
  meanBps?: number;
  /** Bytes moved during the whole phase. */
  bytes: number;
  /** Why the phase gave no rate. */
  error?: string;
}

export interface PathResult {
  path: string;
  link?: string;
  down: DirectionResult;
  up: DirectionResult;
}

export interface SpeedTestResult {
  entry: string;
  /** ISO-8601, when the test finished. */
  time: string;
  /** Seconds per phase asked for. */
  seconds: number;
  paths: PathResult[];
  /** All paths at once (absent with a single path). */
  striped?: {
    paths: string[];
    down: DirectionResult & { share?: number };
    up: DirectionResult & { share?: number };
  };
}

/** The striped rate as a share of the sum of the rates of the paths it ran over (0..1+), or undefined. */
export function share(striped: number | undefined, alone: readonly (number | undefined)[]): number | undefined {
  if (striped === undefined) return undefined;
  let sum = 0;
  for (const a of alone) {
    if (a === undefined) return undefined;
    sum += a;
  }
  return sum > 0 ? striped / sum : undefined;
}

/** `seconds` as the daemon accepts it: a number from {@link MIN_SECONDS} to {@link MAX_SECONDS}. */
export function checkSeconds(v: unknown, what = 'seconds'): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < MIN_SECONDS || n > MAX_SECONDS) {
    throw new WanbraidError('WB_REQUEST_INVALID', `${what} must be a number from ${MIN_SECONDS} to ${MAX_SECONDS}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** What the runner reports while it works, for a progress bar. */
export interface Progress {
  /** 0-based index of the phase, and how many there are. */
  phase: number;
  phases: number;
  /** `wan1 download`, `striped upload`. */
  label: string;
  /** Fraction of the whole test done, 0..1. */
  done: number;
  /** The current phase's rate so far (bit/s), when known. */
  bps?: number;
}

export function phaseLabel(p: Phase): string {
  return `${p.kind === 'striped' ? 'striped' : p.paths[0]} ${p.direction === 'down' ? 'download' : 'upload'}`;
}
