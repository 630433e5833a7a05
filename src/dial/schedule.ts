/**
 * When sessions are dialled and redialled. Pure; times are milliseconds on any monotonic clock.
 *
 * - {@link dialOffsets}: `sync` dials every session at once (ISPs that accept extra sessions only
 *   within a short window); `stagger` dials session i at (i - 1) × `stagger` (weak hardware, or
 *   access concentrators that drop offers under a burst of discovery).
 * - {@link Backoff}: one per session. The first redial after a failure waits `min`, each failure
 *   in a row doubles the wait up to `max`; a session that stayed up for {@link STABLE_MS} starts
 *   over at `min` on its next failure. A failure of one session never delays another's.
 */

/** A session up this long counts as stable: its next failure redials after the shortest wait. */
export const STABLE_MS = 60_000;

export type DialMode = 'sync' | 'stagger';

/** Offsets (milliseconds from the start) at which sessions 1..n are dialled. */
export function dialOffsets(mode: DialMode, sessions: number, staggerMs: number): number[] {
  return Array.from({ length: sessions }, (_, i) => (mode === 'sync' ? 0 : i * staggerMs));
}

export class Backoff {
  private failures = 0;
  private upSince: number | undefined;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    readonly stableMs = STABLE_MS,
  ) {
    if (!(minMs > 0) || !(maxMs >= minMs)) throw new RangeError(`backoff needs 0 < min <= max (got ${minMs}, ${maxMs})`);
  }

  /** The session came up at `now`. */
  up(now: number): void {
    this.upSince = now;
  }

  /** The session failed at `now`: how long to wait before redialling it. */
  fail(now: number): number {
    if (this.upSince !== undefined && now - this.upSince >= this.stableMs) this.failures = 0;
    this.upSince = undefined;
    const wait = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return wait;
  }

  /** Failures in a row since the last stable period. */
  get consecutiveFailures(): number {
    return this.failures;
  }
}
