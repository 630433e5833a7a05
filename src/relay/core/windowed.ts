/**
 * Windowed min/max filters over time, in fixed buckets: O(buckets) memory whatever the sample
 * rate. Times are milliseconds from any monotonic clock. Pure.
 */
export class WindowedFilter {
  private buckets: { start: number; v: number }[] = [];

  constructor(
    private readonly kind: 'min' | 'max',
    /** Window length (ms). */
    private readonly windowMs: number,
    private readonly nBuckets = 8,
  ) {}

  private better(a: number, b: number): boolean {
    return this.kind === 'min' ? a < b : a > b;
  }

  add(now: number, v: number): void {
    const width = this.windowMs / this.nBuckets;
    const last = this.buckets[this.buckets.length - 1];
    if (last && now - last.start < width) {
      if (this.better(v, last.v)) last.v = v;
    } else this.buckets.push({ start: now, v });
    this.expire(now);
  }

  private expire(now: number): void {
    while (this.buckets.length > 1 && now - this.buckets[0]!.start > this.windowMs) this.buckets.shift();
  }

  /** The min or max over the window, or undefined with no sample. */
  get(now: number): number | undefined {
    this.expire(now);
    let out: number | undefined;
    for (const b of this.buckets) if (out === undefined || this.better(b.v, out)) out = b.v;
    return out;
  }
}
