/**
 * The sliding quality window of one link: the probe results of the last `window` milliseconds, and
 * the figures status, metrics and the quality limits use.
 *
 * - loss: results that did not answer within the probe timeout, in percent of all results in the
 *   window (a probe still in flight is not counted yet);
 * - RTT: mean and last of the answered probes;
 * - jitter: mean absolute difference of consecutive RTTs *of the same target* (targets at different
 *   distances would otherwise show their distance as jitter), losses skipped.
 *
 * A result is placed at the time it became known. Pure; O(results in the window) per query, which
 * is a few dozen for the defaults (2 targets every 500 ms over 10 s).
 */

/** One probe outcome as the window keeps it. */
export interface ProbeSample {
  /** Epoch milliseconds when the result became known. */
  at: number;
  target: string;
  ok: boolean;
  /** Milliseconds, when ok. */
  rttMs?: number | undefined;
}

export interface WindowStats {
  /** Results in the window. */
  samples: number;
  answered: number;
  /** Percent 0-100; undefined with no results. */
  lossPct: number | undefined;
  /** Milliseconds; undefined with no answers. */
  rttMeanMs: number | undefined;
  rttLastMs: number | undefined;
  /** Milliseconds; undefined with fewer than two answers from one target. */
  jitterMs: number | undefined;
}

export class QualityWindow {
  private samples: ProbeSample[] = [];

  /** @param windowMs length of the window in milliseconds */
  constructor(private windowMs: number) {}

  get lengthMs(): number {
    return this.windowMs;
  }

  setLength(windowMs: number): void {
    this.windowMs = windowMs;
  }

  add(s: ProbeSample): void {
    this.samples.push(s);
    // Keep the array from growing between queries (a link nobody asks about).
    if (this.samples.length > 64 && this.samples[0]!.at <= s.at - this.windowMs) this.prune(s.at);
  }

  clear(): void {
    this.samples = [];
  }

  stats(now: number): WindowStats {
    this.prune(now);
    let answered = 0;
    let rttSum = 0;
    let rttLast: number | undefined;
    let jitterSum = 0;
    let jitterPairs = 0;
    const prevByTarget = new Map<string, number>();
    for (const s of this.samples) {
      if (!s.ok || s.rttMs === undefined) continue;
      answered++;
      rttSum += s.rttMs;
      rttLast = s.rttMs;
      const prev = prevByTarget.get(s.target);
      if (prev !== undefined) {
        jitterSum += Math.abs(s.rttMs - prev);
        jitterPairs++;
      }
      prevByTarget.set(s.target, s.rttMs);
    }
    const n = this.samples.length;
    return {
      samples: n,
      answered,
      lossPct: n === 0 ? undefined : ((n - answered) / n) * 100,
      rttMeanMs: answered === 0 ? undefined : rttSum / answered,
      rttLastMs: rttLast,
      jitterMs: jitterPairs === 0 ? undefined : jitterSum / jitterPairs,
    };
  }

  private prune(now: number): void {
    const cutoff = now - this.windowMs;
    let i = 0;
    while (i < this.samples.length && this.samples[i]!.at <= cutoff) i++;
    if (i > 0) this.samples = this.samples.slice(i);
  }
}
