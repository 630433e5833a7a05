/**
 * The passive signal of one link: packets out against packets in, sampled from the interface's
 * counters. Pure: fed `(time, txPackets, rxPackets, rttMs)` samples, it says when the link has
 * become *suspect*; the tracker (tracker.ts) answers a suspicion with a burst of probes whose
 * verdict confirms (offline) or clears it. A suspicion alone never changes the link's state.
 *
 * Units: epoch milliseconds, packets. Counters are the kernel's cumulative ones; the caller
 * subtracts the link's own probes from `txPackets` (so an idle link's probe rounds are not
 * "traffic") and multicast from `rxPackets` (rx noise that proves nothing about the upstream).
 *
 * The rule. A *silent period* begins at the first sample in which packets left and none came in.
 * When the sample before saw packets come in, the last of them arrived between that sample and
 * the one before it, and the silence is counted from the middle of that interval (off by at most
 * half an interval either way); after an idle spell, from half a sample period before the first
 * packets out. Any packet in ends it. The link becomes suspect when a silent period
 *   - has lasted `threshold` = max(`silenceMs`, {@link RTT_FACTOR} × the link's RTT) × 2^backoff,
 *   - and traffic kept leaving during it: at least {@link MIN_TX_PACKETS} packets, seen in at
 *     least {@link MIN_TX_SAMPLES} samples (one batch sent just before going quiet does not count).
 *
 * Backoff. A cleared suspicion doubles the threshold (up to 2^{@link MAX_BACKOFF}); it returns to
 * 1× only after {@link BACKOFF_RESET_MS} in which no silent period reached the base threshold. A
 * one-way flow (a UDP stream without replies) on a healthy link therefore causes a short series
 * of bursts and then none: on a probed link the probes' answers end every silent period within
 * about one probe interval, so once the threshold is above that, the flow can never reach it
 * again while the pattern lasts. At most one suspicion is open at a time.
 *
 * A counter that goes backwards (interface recreated, counters reset) starts the baseline afresh.
 *
 * Sampling. {@link PassiveDetector.dueAt} is when the open silent period reaches the threshold:
 * the caller reads the counters then (besides its regular period), so a suspicion is not late by
 * up to a whole period, without reading more often while nothing is silent.
 * {@link PassiveDetector.carrying} says whether the link carries traffic now: the sampler reads every
 * 100 ms only while some link does, and every 500 ms otherwise. A link that starts carrying traffic
 * and dies at once is judged from its first busy reading (the half-interval estimate above is
 * capped at half the busy period, so the silence is never overstated).
 */

/** The threshold is at least this many times the link's smoothed RTT. */
export const RTT_FACTOR = 3;
/** Packets out during a silent period before it counts as traffic that gets no answer. */
export const MIN_TX_PACKETS = 4;
/** Samples with packets out during a silent period ("traffic keeps leaving"). */
export const MIN_TX_SAMPLES = 2;
/** The threshold grows to at most 2^MAX_BACKOFF times its base after cleared suspicions. */
export const MAX_BACKOFF = 6;
/** Milliseconds without a silent period reaching the base threshold before the backoff resets. */
export const BACKOFF_RESET_MS = 10_000;

/** One reading of a link's counters. */
export interface TrafficSample {
  /** Epoch milliseconds when the counters were read. */
  at: number;
  /** Packets sent through the link (the link's own probes already subtracted). */
  txPackets: number;
  /** Packets received on the link (multicast already subtracted). */
  rxPackets: number;
  /** The link's smoothed probe RTT in milliseconds, when known. */
  rttMs?: number | undefined;
}

/** A new suspicion: what was measured and the threshold it crossed. */
export interface Suspicion {
  /** Epoch milliseconds. */
  at: number;
  /** How long nothing came in while packets kept leaving, milliseconds. */
  silenceMs: number;
  /** The threshold crossed, milliseconds (backoff included). */
  thresholdMs: number;
  /** Packets that left during the silence. */
  txPackets: number;
}

export type PassiveOutcome = 'confirmed' | 'cleared';

export interface PassiveStatus {
  /** `watching`: sampling; `suspect`: a burst decides; `idle`: not sampling (link not online, or passive off). */
  state: 'idle' | 'watching' | 'suspect';
  /** The threshold a silent period must reach now, milliseconds (backoff included). */
  thresholdMs: number;
  /** Doublings of the threshold now in force (0 = base). */
  backoff: number;
  suspicions: number;
  confirmed: number;
  cleared: number;
  /** The last suspicion and, once decided, its outcome. */
  last: (Suspicion & { outcome?: PassiveOutcome | undefined; detail?: string | undefined }) | undefined;
}

interface Silence {
  since: number;
  tx: number;
  samples: number;
}

export class PassiveDetector {
  private prev: TrafficSample | undefined;
  /** The last sample that saw packets come in (`to`) and the sample before it (`from`). */
  private lastRx: { from: number; to: number } | undefined;
  private silence: Silence | undefined;
  private open: Suspicion | undefined;
  private rxSinceSuspect = false;
  private backoff = 0;
  private lastPatternAt = -Infinity;
  private rttMs: number | undefined;
  private counts = { suspicions: 0, confirmed: 0, cleared: 0 };
  private last: PassiveStatus['last'];
  private active = false;
  private txInLast = false;

  /**
   * @param silenceMs the configured base silence (`probe.passiveSilence`), milliseconds
   * @param samplePeriodMs the sampling period, milliseconds (for the half-period estimate)
   */
  constructor(
    private silenceMs: number,
    private readonly samplePeriodMs: number,
  ) {}

  setSilence(ms: number): void {
    this.silenceMs = ms;
  }

  /** The base threshold (no backoff), milliseconds. */
  baseThreshold(): number {
    return Math.max(this.silenceMs, this.rttMs === undefined ? 0 : RTT_FACTOR * this.rttMs);
  }

  threshold(): number {
    return this.baseThreshold() * 2 ** this.backoff;
  }

  /** True while a suspicion waits for its burst's verdict. */
  get suspect(): boolean {
    return this.open !== undefined;
  }

  /**
   * Epoch milliseconds at which the current silent period reaches the threshold (read the counters
   * then), or undefined: no silent period, or a suspicion already open.
   */
  dueAt(): number | undefined {
    if (!this.silence || this.open) return undefined;
    return this.silence.since + this.threshold();
  }

  /**
   * The link carries traffic now: packets left (less its probes) in the last reading, or a silent
   * period or a suspicion is open. The sampler reads often only while some link does.
   */
  get carrying(): boolean {
    return this.txInLast || this.silence !== undefined || this.open !== undefined;
  }

  /** Packets came in since the open suspicion began (traffic resumed). */
  get resumed(): boolean {
    return this.rxSinceSuspect;
  }

  /** One reading of the counters: a new suspicion, or undefined. */
  sample(s: TrafficSample): Suspicion | undefined {
    this.active = true;
    if (s.rttMs !== undefined && Number.isFinite(s.rttMs) && s.rttMs >= 0) this.rttMs = s.rttMs;
    const prev = this.prev;
    this.prev = s;
    if (!prev || s.at <= prev.at) return undefined;
    const dTx = s.txPackets - prev.txPackets;
    const dRx = s.rxPackets - prev.rxPackets;
    this.txInLast = dTx > 0;
    if (dTx < 0 || dRx < 0) {
      // Counters went backwards: a new baseline, no judgement across it.
      this.silence = undefined;
      return undefined;
    }
    if (dRx > 0) {
      this.silence = undefined;
      this.lastRx = { from: prev.at, to: s.at };
      if (this.open) this.rxSinceSuspect = true;
    } else if (dTx > 0) {
      // Never more than half the busy period back: a long (idle-rate) interval must not overstate the silence.
      const since = this.lastRx?.to === prev.at ? Math.max((this.lastRx.from + this.lastRx.to) / 2, this.lastRx.to - this.samplePeriodMs / 2) : s.at - Math.min(s.at - prev.at, this.samplePeriodMs) / 2;
      this.silence ??= { since, tx: 0, samples: 0 };
      this.silence.tx += dTx;
      this.silence.samples++;
    }
    const sil = this.silence;
    const busy = sil !== undefined && sil.tx >= MIN_TX_PACKETS && sil.samples >= MIN_TX_SAMPLES;
    const silentFor = sil ? s.at - sil.since : 0;
    if (busy && silentFor >= this.baseThreshold()) this.lastPatternAt = s.at;
    if (this.backoff > 0 && !this.open && s.at - this.lastPatternAt >= BACKOFF_RESET_MS) this.backoff = 0;
    if (this.open || !busy) return undefined;
    const thresholdMs = this.threshold();
    if (silentFor < thresholdMs) return undefined;
    const susp: Suspicion = { at: s.at, silenceMs: Math.round(silentFor), thresholdMs: Math.round(thresholdMs), txPackets: sil.tx };
    this.open = susp;
    this.rxSinceSuspect = false;
    this.counts.suspicions++;
    this.last = { ...susp };
    return susp;
  }

  /**
   * The verdict on the open suspicion. `cleared` raises the backoff; `confirmed` (the link goes
   * offline) is followed by {@link reset} from the caller. `detail` is kept for status.
   */
  settle(outcome: PassiveOutcome, now: number, detail?: string): Suspicion | undefined {
    const s = this.open;
    if (!s) return undefined;
    this.open = undefined;
    this.rxSinceSuspect = false;
    this.counts[outcome]++;
    this.last = { ...s, outcome, detail };
    if (outcome === 'cleared') {
      this.backoff = Math.min(MAX_BACKOFF, this.backoff + 1);
      this.lastPatternAt = now;
      this.silence = undefined;
    }
    return s;
  }

  /**
   * Stop judging (the link is not online, or passive was turned off): forget the baseline, the
   * silence, an open suspicion (without an outcome) and the backoff. Counters are kept.
   */
  reset(): void {
    this.active = false;
    this.prev = undefined;
    this.lastRx = undefined;
    this.silence = undefined;
    if (this.open && this.last && this.last.outcome === undefined) this.last = { ...this.last, detail: 'dropped: link left online' };
    this.open = undefined;
    this.rxSinceSuspect = false;
    this.backoff = 0;
    this.lastPatternAt = -Infinity;
  }

  status(): PassiveStatus {
    return {
      state: this.open ? 'suspect' : this.active ? 'watching' : 'idle',
      thresholdMs: Math.round(this.threshold()),
      backoff: this.backoff,
      ...this.counts,
      last: this.last,
    };
  }
}
