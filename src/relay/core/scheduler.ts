/**
 * Which path carries the next chunk. Pure.
 *
 * A path takes a chunk only while its bytes in flight stay under its cap (see path-meter.ts) and
 * its pacing lets it send (pacer.ts), so every path carries what it can and none builds a long
 * queue or receives a burst; among paths with room the one with
 * the lowest smoothed RTT wins (ties: the emptier one), so a light flow rides the fastest path.
 * Round-robin would pace every path at the slowest one's rate; this does not.
 *
 * Control frames (acknowledgements, opens, resets) are not capped: they go on the path where they
 * should arrive first, the lowest RTT plus the time to drain what that path already holds.
 */

/** What the scheduler needs to know about one live path. */
export interface PathView {
  /** The engine's path id. */
  id: number;
  /** Bytes in flight (written, not acknowledged by the far end). */
  inflight: number;
  /** In-flight cap (bytes). */
  cap: number;
  /** Smoothed RTT (ms); undefined before the first sample (treated as unknown, after measured paths). */
  srtt: number | undefined;
  /** Max delivery rate (bytes/s), 0 when unknown. */
  rate: number;
  /** The path's pacing holds data back until later (see pacer.ts). */
  paced?: boolean;
}

function rttOf(p: PathView): number {
  return p.srtt ?? 1e6;
}

/** The path for a chunk of `bytes`, or undefined when no path has room. */
export function pickDataPath(paths: Iterable<PathView>, bytes: number): number | undefined {
  let best: PathView | undefined;
  for (const p of paths) {
    if (p.paced || (p.inflight !== 0 && p.inflight + bytes > p.cap)) continue;
    if (!best) {
      best = p;
      continue;
    }
    const a = rttOf(p);
    const b = rttOf(best);
    if (a < b || (a === b && p.inflight / p.cap < best.inflight / best.cap)) best = p;
  }
  return best?.id;
}

/** Expected time (ms) for a small record sent now on `p` to arrive. */
export function expectedDelay(p: PathView): number {
  const drain = p.rate > 0 ? (p.inflight * 1000) / p.rate : p.inflight > 0 ? 1e3 : 0;
  return rttOf(p) / 2 + drain;
}

/** The path for control frames, or undefined with no live path. */
export function pickControlPath(paths: Iterable<PathView>): number | undefined {
  let best: PathView | undefined;
  let bestD = Infinity;
  for (const p of paths) {
    const d = expectedDelay(p);
    if (d < bestD) {
      best = p;
      bestD = d;
    }
  }
  return best?.id;
}
