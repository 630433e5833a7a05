/**
 * Whether the plan is in the kernel, and when to try again when it is not. Pure: outcomes and the
 * clock come in, decisions come out; the daemon owns the timer.
 *
 * Contract:
 * - {@link retryDelayMs}: the wait before retry number `attempt` (1 = after the first failure in a
 *   row): `firstMs` doubling per attempt, capped at `maxMs` (default 0.5 s, 1 s, 2 s … 30 s).
 *   No jitter: one daemon retries against its own kernel, there is no herd to spread.
 * - {@link PlanTracker.record}: every finished apply (not superseded) is one outcome. A failed one
 *   counts in `failuresTotal` and asks for a retry after the delay of its place in the current run
 *   of failures; a good one ends the run (the next failure waits `firstMs` again) and, the first
 *   time, says the daemon may tell systemd READY=1.
 * - Units: milliseconds; times are epoch milliseconds.
 */
import type { MetricFamily } from '../status/metrics.js';

export interface BackoffOptions {
  /** Wait before the first retry (milliseconds). */
  firstMs: number;
  /** Longest wait (milliseconds). */
  maxMs: number;
}

export const PLAN_RETRY: Readonly<BackoffOptions> = { firstMs: 500, maxMs: 30_000 };

/** Milliseconds to wait before retry number `attempt` (1-based; below 1 counts as 1). */
export function retryDelayMs(attempt: number, o: BackoffOptions = PLAN_RETRY): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  // 2^(n-1) overflows to Infinity long after the cap applies; min() keeps it finite.
  return Math.min(o.maxMs, o.firstMs * 2 ** Math.min(n - 1, 52));
}

/** What `status` shows about the plan (the `plan` section of the status object). */
export interface PlanStatus {
  /** pending: nothing applied yet; ok: the last apply succeeded; failed: it did not, a retry is due. */
  state: 'pending' | 'ok' | 'failed';
  /** When the state began (ISO-8601). */
  since: string;
  /** The last failed apply's failures, one line each (at most {@link MAX_FAILURE_LINES}); empty when ok. */
  failures: string[];
  /** Failed applies in a row (0 when ok). */
  consecutiveFailures: number;
  /** Failed applies since start. */
  failuresTotal: number;
  /** When the next retry runs (ISO-8601), while failed. */
  nextRetryAt?: string;
}

/** Failure lines kept per outcome: a plan with hundreds of failing objects does not grow the status. */
export const MAX_FAILURE_LINES = 20;

export interface PlanDecision {
  /** Arm the retry timer for this many milliseconds; undefined: no retry (cancel a pending one). */
  retryInMs: number | undefined;
  /** The first apply without failures since start: send READY=1 now. */
  firstOk: boolean;
  /** Good again after failures. */
  recovered: boolean;
}

export class PlanTracker {
  private state: PlanStatus['state'] = 'pending';
  private since: number;
  private failures: string[] = [];
  private consecutive = 0;
  private total = 0;
  private everOk = false;
  private nextRetryAt: number | undefined;

  constructor(
    now: number,
    private readonly backoff: BackoffOptions = PLAN_RETRY,
  ) {
    this.since = now;
  }

  record(outcome: { ok: boolean; failures: readonly string[] }, now: number): PlanDecision {
    if (outcome.ok) {
      const recovered = this.state === 'failed';
      const firstOk = !this.everOk;
      if (this.state !== 'ok') this.since = now;
      this.state = 'ok';
      this.everOk = true;
      this.failures = [];
      this.consecutive = 0;
      this.nextRetryAt = undefined;
      return { retryInMs: undefined, firstOk, recovered };
    }
    if (this.state !== 'failed') this.since = now;
    this.state = 'failed';
    this.total++;
    this.consecutive++;
    const lines = outcome.failures.length > 0 ? outcome.failures : ['failed (no detail)'];
    this.failures = lines.slice(0, MAX_FAILURE_LINES);
    if (lines.length > MAX_FAILURE_LINES) this.failures.push(`… and ${lines.length - MAX_FAILURE_LINES} more`);
    const retryInMs = retryDelayMs(this.consecutive, this.backoff);
    this.nextRetryAt = now + retryInMs;
    return { retryInMs, firstOk: false, recovered: false };
  }

  /** The last outcome failed: verify ticks wait, the retry timer repairs. */
  get failing(): boolean {
    return this.state === 'failed';
  }

  /** Some apply has succeeded since start. */
  get ready(): boolean {
    return this.everOk;
  }

  get failuresTotal(): number {
    return this.total;
  }

  status(): PlanStatus {
    const st: PlanStatus = {
      state: this.state,
      since: new Date(this.since).toISOString(),
      failures: [...this.failures],
      consecutiveFailures: this.consecutive,
      failuresTotal: this.total,
    };
    if (this.nextRetryAt !== undefined) st.nextRetryAt = new Date(this.nextRetryAt).toISOString();
    return st;
  }
}

/** The plan's Prometheus families: failed applies since start, and whether the last one failed. */
export function planMetricFamilies(s: PlanStatus): MetricFamily[] {
  return [
    { name: 'wanbraid_plan_failures_total', help: 'Applies of the plan to the kernel that failed (each is retried with backoff).', type: 'counter', samples: [{ value: s.failuresTotal }] },
    { name: 'wanbraid_plan_failing', help: '1 while the last apply of the plan failed and a retry is pending.', type: 'gauge', samples: [{ value: s.state === 'failed' ? 1 : 0 }] },
  ];
}
