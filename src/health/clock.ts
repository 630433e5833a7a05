/**
 * Time for the health subsystem: the wall clock (epoch milliseconds, for `since` and status) and
 * one-shot timers. Everything in health/ that waits takes a {@link Clock}, so that tests drive it
 * with a fake clock and no real time passes.
 *
 * Ordering contract of {@link systemClock}: a timer callback runs in the event loop's *check*
 * phase (a `setTimeout` that hands over to `setImmediate`), i.e. after the poll phase of the same
 * loop turn. After an event-loop stall, probe answers that are already waiting in their sockets are
 * therefore delivered before a round deadline that expired during the stall is judged: a busy
 * process does not count answers it has not read yet as lost.
 */

/** An opaque handle from {@link Clock.setTimer}. */
export interface TimerHandle {
  readonly __timer: true;
}

export interface Clock {
  /** Epoch milliseconds; never goes backwards. */
  now(): number;
  /** Run `fn` once, `ms` milliseconds from now (0 or less: as soon as possible). */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(h: TimerHandle | undefined): void;
}

interface RealHandle extends TimerHandle {
  timeout: NodeJS.Timeout | undefined;
  immediate: NodeJS.Immediate | undefined;
}

/**
 * The process clock. `now()` is the monotonic clock expressed as epoch milliseconds
 * (`performance.timeOrigin + performance.now()`): a wall-clock step (NTP, a manual date change)
 * neither stalls nor bunches probe rounds.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer(fn, ms) {
    const h: RealHandle = { __timer: true, timeout: undefined, immediate: undefined };
    h.timeout = setTimeout(() => {
      h.timeout = undefined;
      h.immediate = setImmediate(() => {
        h.immediate = undefined;
        fn();
      });
    }, Math.max(0, ms));
    return h;
  },
  clearTimer(h) {
    if (!h) return;
    const r = h as RealHandle;
    if (r.timeout) clearTimeout(r.timeout);
    if (r.immediate) clearImmediate(r.immediate);
    r.timeout = undefined;
    r.immediate = undefined;
  },
};
