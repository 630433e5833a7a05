/**
 * One probe in flight: a promise that settles once — as a success with its round-trip time, a
 * failure, or a timeout — and a timer that is always cleared.
 *
 * Contract: the clock starts when the attempt is made (just before sending); `rttMs` is
 * milliseconds from then to {@link Attempt.succeed}, measured with performance.now() on the event
 * loop, so it includes event-loop delay (well under a millisecond on an idle daemon). `cleanup`
 * runs exactly once, on whichever outcome comes first, so the prober can drop its bookkeeping
 * and release the probe's socket there.
 */
import { performance } from 'node:perf_hooks';
import type { ProbeResult } from './types.js';

export const TIMEOUT_ERROR = 'timeout';

export class Attempt {
  readonly promise: Promise<ProbeResult>;
  private resolve!: (r: ProbeResult) => void;
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private done = false;

  constructor(timeoutMs: number, private readonly cleanup: () => void = () => undefined) {
    this.promise = new Promise<ProbeResult>((resolve) => {
      this.resolve = resolve;
    });
    this.timer = setTimeout(() => this.fail(TIMEOUT_ERROR), Math.max(0, timeoutMs));
  }

  get settled(): boolean {
    return this.done;
  }

  succeed(): void {
    this.settle({ ok: true, rttMs: performance.now() - this.started });
  }

  fail(error: string): void {
    this.settle({ ok: false, error });
  }

  private settle(result: ProbeResult): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.resolve(result);
    this.cleanup();
  }
}

/** A failed result without an attempt (nothing was sent). */
export function failed(error: string): Promise<ProbeResult> {
  return Promise.resolve({ ok: false, error });
}

/** The short form of an error for a probe result: its errno name (ENETUNREACH), else its message and code. */
export function errorText(err: unknown): string {
  if (err && typeof err === 'object') {
    const code = (err as { errno?: unknown; code?: unknown }).code;
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno === 'string' && /^E[A-Z0-9]+$/.test(errno)) return errno;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
    if (err instanceof Error) return typeof code === 'string' ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
