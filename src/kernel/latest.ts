/**
 * Latest-wins serialisation: one job runs at a time; while it runs, only the newest submitted
 * input is kept. Older waiting inputs resolve at once as superseded, and the running job can ask
 * {@link LatestRunner.hasNewer} between steps to stop early. This is how the balancer makes only
 * the newest desired state matter (mwan4's netlink worker keeps the latest Apply the same way).
 */

export type Outcome<O> = { superseded: false; result: O } | { superseded: true };

interface Waiting<I, O> {
  input: I;
  resolve(o: Outcome<O>): void;
  reject(e: unknown): void;
}

export class LatestRunner<I, O> {
  private running = false;
  private waiting: Waiting<I, O> | undefined;

  constructor(private readonly job: (input: I, hasNewer: () => boolean) => Promise<O>) {}

  /** True while a newer input waits behind the running job. */
  hasNewer = (): boolean => this.waiting !== undefined;

  submit(input: I): Promise<Outcome<O>> {
    return new Promise<Outcome<O>>((resolve, reject) => {
      this.waiting?.resolve({ superseded: true });
      this.waiting = { input, resolve, reject };
      if (!this.running) void this.drain();
    });
  }

  /** Resolves once nothing runs and nothing waits. */
  async idle(): Promise<void> {
    while (this.running || this.waiting) await new Promise((r) => setTimeout(r, 5));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        try {
          w.resolve({ superseded: false, result: await this.job(w.input, this.hasNewer) });
        } catch (err) {
          w.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
