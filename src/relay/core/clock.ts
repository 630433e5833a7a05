/**
 * Time for the relay engine, injectable so that the engine runs on a simulated clock in unit
 * tests. `now` is milliseconds on a monotonic clock; `defer` runs a function after the current
 * batch of I/O events (setImmediate), which is where acknowledgements are coalesced.
 */
export interface Clock {
  now(): number;
  /** Call fn after ms milliseconds; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
  /** Call fn every ms milliseconds until cancelled. */
  every(ms: number, fn: () => void): () => void;
  /** Call fn once the current batch of events has been handled. */
  defer(fn: () => void): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
  defer(fn) {
    setImmediate(fn);
  },
};
