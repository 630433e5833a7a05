/**
 * The passive signal's input: every interface's packet counters, read for all links at once every
 * {@link PASSIVE_SAMPLE_MS} (one rtnetlink dump, no process), handed to each link by ifindex.
 *
 * {@link TrafficSource} is the small interface health needs (rtnl-source.ts has the real one:
 * RTM_GETSTATS; tests inject fakes). {@link TrafficSampler} is the timer around it: a read every
 * period ({@link PASSIVE_SAMPLE_MS} while some watched link carries traffic, {@link PASSIVE_IDLE_SAMPLE_MS}
 * while none does: an idle router does not wake ten times a second for nothing), and one more when a link's silent period is due to reach its threshold (`dueAt`, at
 * least {@link MIN_GAP_MS} after the last read); one read at a time (a read still in flight when
 * the next is due skips that tick), nothing read while no link watches its traffic, and read
 * failures logged at most once a minute (the signal is an accelerator: without it, probe rounds
 * still decide).
 */
import type { Clock, TimerHandle } from './clock.js';
import { PASSIVE_IDLE_SAMPLE_MS, PASSIVE_SAMPLE_MS } from './tracker.js';

/** Cumulative packet counters of one interface. */
export interface InterfaceCounters {
  /** Packets sent. */
  txPackets: number;
  /** Unicast packets received (received less multicast). */
  rxPackets: number;
}

export interface TrafficSource {
  /** Counters of every interface of the namespace, by ifindex. */
  read(): Promise<Map<number, InterfaceCounters>>;
  close(): Promise<void>;
}

export interface TrafficSamplerOptions {
  source: TrafficSource;
  clock: Clock;
  /** True while some link watches its traffic (otherwise nothing is read). */
  wanted: () => boolean;
  /** True while some watched link carries traffic (read every `periodMs`; otherwise every `idlePeriodMs`). Absent: always. */
  busy?: () => boolean;
  /** Epoch milliseconds when some link wants a reading before the next regular one (or undefined). */
  dueAt?: () => number | undefined;
  /** The counters and the time (epoch milliseconds) they were read. */
  onSample: (counters: Map<number, InterfaceCounters>, at: number) => void;
  /** A read failed, or `onSample` threw (rate-limited by the sampler). */
  onError: (err: unknown) => void;
  /** Default {@link PASSIVE_SAMPLE_MS}. */
  periodMs?: number;
  /** Default {@link PASSIVE_IDLE_SAMPLE_MS}. */
  idlePeriodMs?: number;
}

/** The shortest gap between two reads, milliseconds. */
export const MIN_GAP_MS = 10;

/** Milliseconds between two logged read failures. */
const ERROR_LOG_INTERVAL_MS = 60_000;

export class TrafficSampler {
  private timer: TimerHandle | undefined;
  private reading = false;
  private stopped = false;
  private lastErrorAt = -Infinity;
  private readonly periodMs: number;
  private readonly idlePeriodMs: number;
  /** Reads done (tests, status). */
  reads = 0;

  constructor(private readonly opts: TrafficSamplerOptions) {
    this.periodMs = opts.periodMs ?? PASSIVE_SAMPLE_MS;
    this.idlePeriodMs = Math.max(this.periodMs, opts.idlePeriodMs ?? PASSIVE_IDLE_SAMPLE_MS);
  }

  start(): void {
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
    await this.opts.source.close();
  }

  /** The next read: a period after the last, or earlier when a link's silent period is due. */
  private arm(): void {
    if (this.stopped) return;
    this.opts.clock.clearTimer(this.timer);
    let wait = (this.opts.busy?.() ?? true) ? this.periodMs : this.idlePeriodMs;
    const due = this.opts.dueAt?.();
    if (due !== undefined) wait = Math.min(wait, Math.max(MIN_GAP_MS, due - this.opts.clock.now()));
    this.timer = this.opts.clock.setTimer(() => this.tick(), wait);
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.reading || !this.opts.wanted()) {
      this.arm();
      return;
    }
    this.reading = true;
    this.reads++;
    this.opts.source.read().then(
      (counters) => {
        this.reading = false;
        if (this.stopped) return;
        try {
          this.opts.onSample(counters, this.opts.clock.now());
        } catch (err) {
          // A bug downstream must not become an unhandled rejection (the daemon never dies from it).
          this.failed(err);
        }
        this.arm();
      },
      (err: unknown) => {
        this.reading = false;
        this.arm();
        this.failed(err);
      },
    );
  }

  private failed(err: unknown): void {
    const now = this.opts.clock.now();
    if (this.stopped || now - this.lastErrorAt < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorAt = now;
    this.opts.onError(err);
  }
}
