/**
 * One shared read of something expensive (the nft counters: an `nft` process per read), for any
 * number of concurrent callers. Contract:
 * - while a read is in flight, every caller gets that same promise (N concurrent calls → 1 read);
 * - a read that succeeded is handed out again for `ttlMs` milliseconds after it finished;
 * - a read that failed is not kept: the next call starts a new one;
 * - `invalidate()` forgets the kept value (the thing read changed: a replaced nft table), and a
 *   read in flight at that moment is not kept either when it finishes.
 * The clock is injected (milliseconds, any origin; default `performance.now()`), so the TTL is
 * tested with a fake one. Single-threaded: no locking beyond the promise itself.
 */
export class SharedRead<T> {
  private inflight: Promise<T> | undefined;
  private kept: { value: T; at: number } | undefined;
  private generation = 0;
  private reads = 0;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The kept value while fresh, else the read in flight, else a new read. */
  get(): Promise<T> {
    if (this.kept && this.now() - this.kept.at < this.ttlMs) return Promise.resolve(this.kept.value);
    if (this.inflight) return this.inflight;
    const gen = this.generation;
    this.reads++;
    const p = (async () => this.read())().then((value) => {
      if (gen === this.generation) this.kept = { value, at: this.now() };
      return value;
    });
    this.inflight = p;
    const clear = () => {
      if (this.inflight === p) this.inflight = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** Forget the kept value; the next `get` reads again. */
  invalidate(): void {
    this.generation++;
    this.kept = undefined;
    this.inflight = undefined;
  }

  /** How many underlying reads were started (for tests and metrics). */
  get readCount(): number {
    return this.reads;
  }
}
