/**
 * Benchmark harness: statistics, machine facts, progress output and result files.
 *
 * Benchmarks are modules named `bench/<name>.bench.ts` exporting `benchmark: Benchmark`. Each run
 * writes `bench/results/<name>.json` holding the machine, the date, every raw sample and the
 * summary, so docs/benchmarks.md can quote medians and ratios against a reference measured in the
 * same run (these machines are shared and noisy: never compare against a figure from another day).
 */
import { cpus, totalmem, release, hostname } from 'node:os';
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

export function writeResult(name: string, out: BenchOutput, startedAt: Date): string {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ benchmark: name, date: startedAt.toISOString(), machine: machine(), ...out }, null, 2) + '\n');
  return file;
}
