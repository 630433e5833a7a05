/**
 * Rate-limited logging: a peer that can trigger a log line (a rejected connection, a refused flow)
 * must not be able to flood the journal. Per interval the first `burst` events are logged in full;
 * the rest are only counted, and one summary line per interval reports how many were suppressed.
 *
 * {@link LogLimit} is the pure decision (times in milliseconds on any monotonic clock, passed in);
 * {@link LimitedLog} adds the one timer that emits the summary when the interval ends, so the count
 * is reported even if no further event comes. Single-threaded; no I/O of its own.
 */

export class LogLimit {
  /** Start of the current interval (ms). */
  private start = -Infinity;
  private logged = 0;
  private suppressed = 0;

  constructor(
    /** Length of one interval (ms). */
    readonly intervalMs: number,
    /** Events logged in full per interval. */
    readonly burst = 1,
  ) {
    if (!(intervalMs > 0) || !(burst >= 1)) throw new RangeError(`log limit needs intervalMs > 0 and burst >= 1 (got ${intervalMs}, ${burst})`);
  }

  /** An event at `now`: true when it should be logged in full, false when it is counted for the summary. */
  allow(now: number): boolean {
    if (now >= this.start + this.intervalMs) {
      this.start = now;
      this.logged = 0;
    }
    if (this.logged < this.burst) {
      this.logged++;
      return true;
    }
    this.suppressed++;
    return false;
  }

  /** Events counted and not yet reported. */
  get pending(): number {
    return this.suppressed;
  }

  /** When the summary of the current interval is due (ms), or undefined when nothing is pending. */
  get summaryDue(): number | undefined {
    return this.suppressed > 0 ? this.start + this.intervalMs : undefined;
  }

  /** The number of suppressed events to report now (0: nothing), and reset the count. */
  takeSummary(): number {
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }
}

export interface LimitedLogTimers {
  now(): number;
  /** Call fn after ms milliseconds; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export class LimitedLog {
  private readonly limit: LogLimit;
  private cancel: (() => void) | undefined;

  constructor(
    private readonly timers: LimitedLogTimers,
    intervalMs: number,
    /** Writes the summary line: `suppressed` events in the last `intervalMs`. */
    private readonly summary: (suppressed: number, intervalMs: number) => void,
    burst = 1,
  ) {
    this.limit = new LogLimit(intervalMs, burst);
  }

  /** An event: `full` writes its log line, called only when the limit allows. Returns whether it was called. */
  event(full: () => void): boolean {
    if (this.limit.allow(this.timers.now())) {
      full();
      return true;
    }
    if (!this.cancel) {
      const due = this.limit.summaryDue!;
      this.cancel = this.timers.after(Math.max(0, due - this.timers.now()), () => {
        this.cancel = undefined;
        this.flush();
      });
    }
    return false;
  }

  /** Write the summary now if anything is pending (also on close). */
  flush(): void {
    const n = this.limit.takeSummary();
    if (n > 0) this.summary(n, this.limit.intervalMs);
  }

  /** Stop the timer; a pending count is written at once. */
  close(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.flush();
  }
}
