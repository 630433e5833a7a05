/**
 * Pacing for one path's data: chunks leave at most at {@link PACING_GAIN} times the path's
 * measured delivery rate, in bursts of at most {@link PACE_BURST_MS} of that rate. Pure; time is
 * passed in (ms), rates are bytes per second.
 *
 * Why: the in-flight cap (path-meter.ts) says how much may be unacknowledged, not how fast it may
 * go out. When the cap rises at once (acknowledgements that waited behind the far end's data arrive
 * together and raise the reverse-queueing allowance), an unpaced sender writes the whole rise
 * into the path's queue in one burst; the far end's acknowledgements then wait behind that queue,
 * its own allowance jumps, and both directions feed each other bursts of hundreds of
 * milliseconds (seen on a simulated 10 ms / 60 ms pair of paths carrying both directions). Paced,
 * a rise of the cap becomes a ramp over tens of milliseconds, which the next acknowledgements
 * correct before it delays anyone. Like BBR's pacing, at a gain above one so the rate estimate can
 * still grow.
 */

/**
 * Data leaves at most this many times the measured rate. BBR probes at 1.25 and starts at 2.89;
 * here the pacing only has to turn a jump of the cap into a ramp, and a path is a kernel TCP
 * connection that needs a backlog to grow its own window: paced at 1.25 x a jittery 300 ms path's
 * estimate, the connection starved and the flow lost 15 % in the lab; at 2 x it did not, and the
 * bursts that fed the two directions' queues were gone as well.
 */
export const PACING_GAIN = 2;
/** Largest burst (ms of the paced rate): timers are coarse, and a small burst costs nothing. */
export const PACE_BURST_MS = 4;

export class Pacer {
  /** When the path may next take data (ms). */
  private next = -Infinity;

  /** Whether data must wait now. A path with no rate estimate yet is not paced. */
  blocked(now: number): boolean {
    return this.next > now;
  }

  /** Milliseconds until the path may take data again (0: now). */
  waitMs(now: number): number {
    return Math.max(0, this.next - now);
  }

  /**
   * `bytes` of data went out at `now` on a path whose delivery rate is `rate` (0: unknown). The
   * pace is never below `floorRate`: the path's smallest cap per min RTT, which any path may
   * always send (so a young or low estimate cannot hold a path back longer than its floor does).
   */
  sent(bytes: number, rate: number, floorRate: number, now: number): void {
    const pace = Math.max(PACING_GAIN * rate, floorRate);
    if (!(pace > 0) || pace === Infinity) return;
    const base = Math.max(this.next, now - PACE_BURST_MS);
    this.next = base + (bytes * 1000) / pace;
  }
}
