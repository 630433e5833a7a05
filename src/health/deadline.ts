/**
 * How long a round waits for one target before counting it as not answered: the verdict deadline.
 *
 * A probe itself waits up to the configured `timeout` (an answer within it is not lost: it counts
 * for loss, RTT and jitter). The *round verdict* does not need to wait that long when the target
 * normally answers in a few milliseconds: the deadline is
 *
 *     clamp( max(srtt + 4·rttvar,  2 · highest of the last 8 RTTs),  MIN_DEADLINE_MS,  timeout )
 *
 * with srtt/rttvar smoothed as in RFC 6298 (gains 1/8 and 1/4), and the full `timeout` until the
 * target has answered once. A late answer (after the deadline, within the timeout) is fed in at
 * once, so one slow answer lifts the deadline for the next round: a sudden RTT jump (bufferbloat
 * on a saturated link) fails at most the rounds already sent before the first slow answer came
 * back.
 *
 * A target that has not answered `retryAfter` milliseconds into a round (about `srtt + 4·rttvar`,
 * at least 20 ms, at most half the deadline) gets one more attempt in the same round, judged by its
 * own deadline: a round then fails only when every attempt to every needed target is lost, which
 * makes random loss far less likely to fail rounds, at the price of `retryAfter` on the verdict of a
 * round that really fails. Pure, per target, milliseconds.
 */

/** The lowest deadline: below this, scheduling noise of a busy router would count as loss. */
export const MIN_DEADLINE_MS = 100;
/** The earliest a second attempt is sent to a target that has not answered. */
export const MIN_RETRY_MS = 20;
/** RTTs remembered for the `2 · recent maximum` term. */
const RECENT = 8;

export class DeadlineEstimator {
  private srtt: number | undefined;
  private rttvar = 0;
  private readonly recent: number[] = [];

  /** The smoothed RTT in milliseconds, undefined until the target has answered once. */
  get smoothed(): number | undefined {
    return this.srtt;
  }

  /** Feed one answered probe's round-trip time (milliseconds). */
  observe(rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    if (this.srtt === undefined) {
      this.srtt = rttMs;
      this.rttvar = rttMs / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rttMs);
      this.srtt = 0.875 * this.srtt + 0.125 * rttMs;
    }
    this.recent.push(rttMs);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  /**
   * When to send a second attempt to a target that has not answered yet, in milliseconds after the
   * first: `srtt + 4·rttvar`, at least {@link MIN_RETRY_MS}, at most half the deadline; undefined
   * until the target has answered once (a cold target gets one attempt with the full timeout).
   */
  retryAfter(timeoutMs: number): number | undefined {
    if (this.srtt === undefined) return undefined;
    const d = this.deadline(timeoutMs);
    return Math.min(d / 2, Math.max(MIN_RETRY_MS, this.srtt + 4 * this.rttvar));
  }

  /** The verdict deadline in milliseconds after the probe was sent, at most `timeoutMs`. */
  deadline(timeoutMs: number): number {
    if (this.srtt === undefined) return timeoutMs;
    const rto = this.srtt + 4 * this.rttvar;
    const spike = 2 * Math.max(...this.recent);
    return Math.min(timeoutMs, Math.max(MIN_DEADLINE_MS, rto, spike));
  }
}

/** How long a link's slowest answer is remembered for its bursts' deadlines (milliseconds). */
export const PEAK_MEMORY_MS = 300_000;

/**
 * The highest value seen over the last `memoryMs` (a monotonic deque: amortised O(1) per value,
 * at most one entry per value still able to be the maximum). Used for the slowest probe answer a
 * link gave recently: a burst (tracker.ts) waits at least that long, so a link that is known to
 * stall (LTE, Wi-Fi) is not called dead by a burst sent into one of its stalls. Pure.
 */
export class PeakWindow {
  private readonly q: { at: number; v: number }[] = [];

  constructor(private readonly memoryMs = PEAK_MEMORY_MS) {}

  observe(at: number, v: number): void {
    if (!Number.isFinite(v)) return;
    while (this.q.length > 0 && this.q[this.q.length - 1]!.v <= v) this.q.pop();
    this.q.push({ at, v });
  }

  /** The highest value seen since `now - memoryMs`, or undefined. */
  max(now: number): number | undefined {
    while (this.q.length > 0 && this.q[0]!.at < now - this.memoryMs) this.q.shift();
    return this.q[0]?.v;
  }
}
