/**
 * Benchmark harness: statistics, machine facts, progress output and result files.
 *
 * Benchmarks are modules named `bench/<name>.bench.ts` exporting `benchmark: Benchmark`. Each run
 * writes `bench/results/<name>.json` holding the run's provenance ({@link RunInfo}: git commit and
 * whether the tree was dirty, the `--quick` flag, node and kernel versions, the machine, the date,
 * the load average at start and end),
 * every raw sample and the summary, so docs/benchmarks.md can quote medians and ratios against a
 * reference measured in the same run (these machines are shared and noisy: never compare against
 * a figure from another day). The provenance is added here, in {@link writeResult}, for every
 * benchmark alike. A `--quick` run writes `bench/results/<name>.quick.json` (not committed), so it
 * never replaces the full result that the docs quote.
 */
import { cpus, totalmem, release, hostname, loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchContext {
  /** Print one progress line (stderr, so stdout stays machine-readable). */
  progress(msg: string): void;
  /** Quick mode (`--quick`): fewer trials, for checking that a benchmark works. */
  quick: boolean;
}

export interface Benchmark {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<BenchOutput>;
}

export interface Goal {
  /** What is measured, e.g. "blackhole → offline, median". */
  what: string;
  /** The measured figure. */
  value: number;
  unit: string;
  /** The goal, e.g. "<= 1500". */
  target: string;
  met: boolean;
}

export interface BenchOutput {
  goals: Goal[];
  /** Everything else worth keeping: raw samples, references, parameters. */
  data: Record<string, unknown>;
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Linear-interpolated quantile (q in 0..1) of the samples. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function summary(xs: readonly number[]): { n: number; min: number; median: number; p90: number; p99: number; max: number } {
  return {
    n: xs.length,
    min: Math.min(...xs),
    median: median(xs),
    p90: quantile(xs, 0.9),
    p99: quantile(xs, 0.99),
    max: Math.max(...xs),
  };
}

/**
 * A distribution-free confidence interval for the median: the order statistics x(k) and
 * x(n+1-k) with the largest k such that P(Binomial(n, 1/2) < k) <= (1 - level) / 2, so the
 * interval covers the true median with probability >= level whatever the distribution. null
 * when n is too small for that level (e.g. n < 6 at 95 %).
 */
export function medianCi(xs: readonly number[], level = 0.95): { lo: number; hi: number; level: number; coverage: number } | null {
  const n = xs.length;
  const s = [...xs].sort((a, b) => a - b);
  // cdf[j] = P(B < j+1) = P(B <= j) for B ~ Binomial(n, 1/2).
  let pmf = 0.5 ** n;
  let below = 0; // P(B < k)
  let k = 0;
  for (let j = 0; j < n; j++) {
    if (below + pmf > (1 - level) / 2) break;
    below += pmf;
    k = j + 1;
    pmf = (pmf * (n - j)) / (j + 1);
  }
  if (k < 1) return null;
  return { lo: s[k - 1]!, hi: s[n - k]!, level, coverage: 1 - 2 * below };
}

export function goal(what: string, value: number, unit: string, op: '<=' | '>=' | '==', bound: number): Goal {
  const met = op === '<=' ? value <= bound : op === '>=' ? value >= bound : value === bound;
  return { what, value: Math.round(value * 1000) / 1000, unit, target: `${op} ${bound}`, met };
}

export function machine(): Record<string, unknown> {
  const c = cpus();
  return {
    host: hostname(),
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  };
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where and from what a result was measured. */
export interface RunInfo {
  /** `git rev-parse HEAD` of the checkout, or null outside a git checkout. */
  commit: string | null;
  /**
   * Uncommitted changes (tracked or untracked, bench/results/ excluded) when the run started: the
   * figures then belong to a tree no commit has. null when git could not tell.
   */
  dirty: boolean | null;
  /** `--quick`: fewer trials, for checking that a benchmark works; not a figure to quote. */
  quick: boolean;
  node: string;
  /** `uname -r`. */
  kernel: string;
  /** ISO time the benchmark started. */
  date: string;
  machine: Record<string, unknown>;
  /**
   * The 1-, 5- and 15-minute load averages when the benchmark started and ended: how busy the
   * shared machine was (compare with machine.cores).
   */
  load: { start: number[]; end?: number[] };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

/** The provenance of a run starting now (git is asked once per benchmark). */
export function runInfo(opts: { quick: boolean; startedAt: Date }): RunInfo {
  const commit = git(['rev-parse', 'HEAD']);
  const status = git(['status', '--porcelain', '--', '.', ':(exclude)bench/results']);
  return {
    commit,
    dirty: status === null ? null : status !== '',
    quick: opts.quick,
    node: process.version,
    kernel: release(),
    date: opts.startedAt.toISOString(),
    machine: machine(),
    load: { start: loadavg().map(round2) },
  };
}

/** The file a result goes to: `<name>.json`, or `<name>.quick.json` for a quick run. */
export function resultFile(name: string, quick: boolean): string {
  return join(ROOT, 'bench', 'results', `${name}${quick ? '.quick' : ''}.json`);
}

export function writeResult(name: string, out: BenchOutput, run: RunInfo): string {
  const file = resultFile(name, run.quick);
  mkdirSync(dirname(file), { recursive: true });
  const done: RunInfo = { ...run, load: { ...run.load, end: loadavg().map(round2) } };
  writeFileSync(file, JSON.stringify({ benchmark: name, run: done, date: run.date, machine: run.machine, ...out }, null, 2) + '\n');
  return file;
}
