/**
 * The per-link health state machine: probe rounds and kernel signals in, health state out.
 *
 * Pure: no timers, no sockets. The caller (link-runner.ts) starts a round every `interval`; every
 * call takes the current time in epoch milliseconds and returns the transitions it caused.
 *
 * Rounds. Every target is probed at the start of a round; rounds start every `interval` whatever
 * the previous ones are doing, so with the default timeout (1 s) longer than the interval (500 ms)
 * two rounds are in flight at once. A round is judged as soon as its verdict is certain:
 * - good once `reliability` targets answered within their verdict deadline;
 * - failed once so many targets failed (an error, or no answer by the verdict deadline) that
 *   `reliability` answers are no longer possible.
 * The verdict deadline of a target is adaptive (deadline.ts): the full `timeout` until the target
 * has answered once, then about `srtt + 4·rttvar`, at least twice its highest recent RTT, at least
 * 100 ms and at most `timeout`. A probe keeps waiting until `timeout` all the same: a late answer
 * is not loss (it counts for RTT, loss and jitter and lifts the deadline of the next rounds) but the
 * round it belonged to has failed. A target with an RTT estimate that has not answered
 * `retryAfter` into the round (≥ 20 ms, ≤ half its deadline) gets one retry, judged by its own
 * deadline; the target answered if either attempt did. Verdicts are applied in round order, so
 * "in a row" means consecutive rounds as sent.
 *
 * The caller sends what {@link LinkTracker.beginRound} and {@link LinkTracker.poll} return, hands
 * each outcome to {@link LinkTracker.result}, and calls `poll` at {@link LinkTracker.nextWakeup}.
 *
 * States. `down` failed rounds in a row take a probing, online or degraded link offline; `up` good
 * rounds in a row take a probing or offline link online; quality limits (quality.ts) move an online
 * link to degraded and back. The kernel comes first: a link without carrier, set down, missing, or
 * without an address and next hop is offline at once with that reason, its rounds are dropped, and
 * it is probing again (then online after `up` good rounds) when the kernel says it is usable. A
 * link without probes follows the kernel alone: online when usable, offline otherwise.
 * `disabled` and forced-up are not health states: overrides.ts puts them on top.
 *
 * Passive signal (`probe.passive`, passive.ts). While the link is online or degraded, the caller
 * hands in its interface counters every sample period ({@link LinkTracker.traffic}); the tracker
 * subtracts its own probes from the packets out. When the detector calls the link suspect, a
 * *burst* goes out at once: {@link BURST_ATTEMPTS} probes to every target,
 * {@link BURST_SPACING_MS} apart, each judged by its target's verdict deadline, or by the slowest
 * answer the link gave in the last 5 minutes when that is longer (a link that stalls is given the
 * time its stalls take: the burst may well have been sent into one). Any answer in time
 * clears the suspicion; so does traffic that came back in meanwhile. Only when every burst probe
 * was lost and nothing came in does the link go offline, with reason `traffic-silent`. Bursts do
 * not count as rounds (the `down`/`up` runs are the rounds' alone), but their results feed the
 * quality window and the targets' RTT estimates like any probe.
 */
import type { ProbeConfig } from '../config/schema.js';
import type { StateReason } from '../model.js';
import { DeadlineEstimator, PeakWindow } from './deadline.js';
import { PassiveDetector, type PassiveStatus, type Suspicion } from './passive.js';
import type { ProbeResult } from './prober.js';
import { judgeQuality } from './quality.js';
import { QualityWindow, type WindowStats } from './window.js';

/** Probes per target in a suspicion's burst. */
export const BURST_ATTEMPTS = 3;
/** Milliseconds between the burst's probes to one target. */
export const BURST_SPACING_MS = 15;
/**
 * Milliseconds between two regular readings of the interface counters; besides, the counters are
 * read when a silent period is due to reach its threshold ({@link LinkTracker.trafficDueAt}).
 */
export const PASSIVE_SAMPLE_MS = 100;
/** Milliseconds between two readings while no watched link carries traffic (an idle router wakes 2 times a second, not 10). */
export const PASSIVE_IDLE_SAMPLE_MS = 500;

/** A suspicion and its outcome, for logs, events and status. */
export type PassiveEvent =
  | { kind: 'suspect'; at: number; silenceMs: number; thresholdMs: number; txPackets: number; probes: number }
  | { kind: 'cleared'; at: number; silenceMs: number; by: 'probes' | 'traffic'; answered: number; sent: number; backoff: number }
  | { kind: 'confirmed'; at: number; silenceMs: number; lost: number; sent: number };

/** The interface counters as read (cumulative, packets): tx all packets out, rx unicast packets in. */
export interface LinkCounters {
  /** Epoch milliseconds of the reading. */
  at: number;
  txPackets: number;
  rxPackets: number;
}

/** The states health itself decides; `disabled` comes from an override. */
export type HealthState = 'probing' | 'online' | 'degraded' | 'offline';

export interface TrackerSettings {
  /** Absent: the link follows the kernel only. */
  probe: ProbeConfig | undefined;
  initialState: 'probing' | 'online' | 'offline';
}

/** What the kernel says about the link (observe.ts): usable, or not with the reason why. */
export type KernelVerdict = { usable: true; reason: StateReason } | { usable: false; reason: StateReason };

/** A change of health state or of its reason. */
export interface HealthTransition {
  state: HealthState;
  prev: HealthState;
  reason: StateReason;
  /** Epoch milliseconds. */
  at: number;
}

/** One probe to send now: attempt 0 to every target at a round's start, attempt 1 as a retry. */
export interface ProbeRequest {
  round: number;
  /** Position of the target in the round. */
  index: number;
  attempt: number;
  target: string;
}

/** Status of one target: counters since start and the last result. */
export interface TargetStatus {
  target: string;
  sent: number;
  failed: number;
  last: { ok: boolean; rttMs?: number | undefined; error?: string | undefined; at: number } | undefined;
}

interface Attempt {
  sentAt: number;
  /** Epoch milliseconds: no answer by then counts against the round. */
  deadline: number;
  outcome: 'on-time' | 'failed' | undefined;
  error: string | undefined;
  /** The deadline has passed without an answer (an answer may still come, late). */
  expired: boolean;
}

interface RoundTarget {
  target: string;
  attempts: Attempt[];
  /** Epoch milliseconds of the retry, while one is still to be sent. */
  retryAt: number | undefined;
}

interface Round {
  id: number;
  start: number;
  targets: RoundTarget[];
  outstanding: number;
  /** A suspicion's burst: `retryAt` is then the next burst probe's time, `left` how many remain. */
  burst?: { suspicion: Suspicion; left: number[] };
}

interface TargetInfo extends TargetStatus {
  estimator: DeadlineEstimator;
}

export class LinkTracker {
  private stateValue: HealthState;
  private sinceValue: number;
  private reasonValue: StateReason;
  private settings: TrackerSettings;
  private kernelUsable: boolean;
  private goodRun = 0;
  private badRun = 0;
  private nextRoundId = 1;
  /** Sent and not yet judged, oldest first. */
  private unjudged: Round[] = [];
  /** Sent, with outcomes still to come (judged or not). */
  private readonly inflight = new Map<number, Round>();
  private readonly window: QualityWindow;
  private targetInfo = new Map<string, TargetInfo>();
  private readonly passive: PassiveDetector;
  /** The undecided burst, if any. */
  private burst: Round | undefined;
  /** Probes sent since start (bursts included): subtracted from the packets out. */
  private probesSent = 0;
  private txBase: { raw: number; adjusted: number } | undefined;
  /** The slowest answers of the last 5 minutes (any target): the floor of a burst's deadlines. */
  private readonly peaks = new PeakWindow();
  private passiveEvents: PassiveEvent[] = [];

  constructor(settings: TrackerSettings, kernel: KernelVerdict, now: number) {
    this.settings = settings;
    this.passive = new PassiveDetector(settings.probe?.passiveSilence ?? 300, PASSIVE_SAMPLE_MS);
    this.kernelUsable = kernel.usable;
    this.window = new QualityWindow(settings.probe?.window ?? 10_000);
    this.syncTargets();
    this.sinceValue = now;
    if (!kernel.usable) {
      this.stateValue = 'offline';
      this.reasonValue = kernel.reason;
    } else if (!settings.probe) {
      this.stateValue = 'online';
      this.reasonValue = { kind: 'no-probes' };
    } else {
      this.stateValue = settings.initialState;
      this.reasonValue = { kind: 'initial' };
    }
  }

  get state(): HealthState {
    return this.stateValue;
  }
  /** Epoch milliseconds of the last health state change. */
  get since(): number {
    return this.sinceValue;
  }
  get reason(): StateReason {
    return this.reasonValue;
  }
  /** Probes are sent only while the kernel says the link is usable and probes are configured. */
  get sendsProbes(): boolean {
    return this.kernelUsable && this.settings.probe !== undefined;
  }

  /** The passive signal is judged now: configured, probed, usable, online or degraded. */
  get watchesTraffic(): boolean {
    return this.settings.probe?.passive === true && this.kernelUsable && (this.stateValue === 'online' || this.stateValue === 'degraded');
  }

  /**
   * One reading of the link's interface counters: the burst to send at once when the link just
   * became suspect (see {@link PassiveEvent}s from {@link takePassiveEvents}), else nothing.
   */
  traffic(c: LinkCounters): ProbeRequest[] {
    if (!this.watchesTraffic) {
      if (!this.burst) this.resetPassive();
      return [];
    }
    // Packets out less our own probes, kept monotonic (a probe is counted a moment before its
    // packet leaves); a raw counter that goes backwards is handed on so the detector re-baselines.
    const adj = c.txPackets - this.probesSent;
    if (!this.txBase || c.txPackets < this.txBase.raw) this.txBase = { raw: c.txPackets, adjusted: adj };
    else this.txBase = { raw: c.txPackets, adjusted: Math.max(this.txBase.adjusted, adj) };
    const s = this.passive.sample({ at: c.at, txPackets: this.txBase.adjusted, rxPackets: c.rxPackets, rttMs: this.linkRtt() });
    if (!s) return [];
    const probes = this.beginBurst(s, c.at);
    this.passiveEvents.push({ kind: 'suspect', at: c.at, silenceMs: s.silenceMs, thresholdMs: s.thresholdMs, txPackets: s.txPackets, probes: probes.length * BURST_ATTEMPTS });
    return probes;
  }

  /** The link is watched and carries traffic now (the sampler reads often only while some link does). */
  get carriesTraffic(): boolean {
    return this.watchesTraffic && this.passive.carrying;
  }

  /** When the counters should be read next for this link's passive signal (a silent period's threshold), or undefined. */
  trafficDueAt(): number | undefined {
    return this.watchesTraffic ? this.passive.dueAt() : undefined;
  }

  /** Suspicions and outcomes since the last call, oldest first. */
  takePassiveEvents(): PassiveEvent[] {
    const out = this.passiveEvents;
    this.passiveEvents = [];
    return out;
  }

  passiveStatus(): PassiveStatus & { enabled: boolean } {
    return { enabled: this.settings.probe?.passive === true, ...this.passive.status() };
  }

  /** Start a round now: the probes to send, or undefined when the link is not probed now. */
  beginRound(now: number): ProbeRequest[] | undefined {
    const p = this.settings.probe;
    if (!p || !this.kernelUsable) return undefined;
    const round: Round = { id: this.nextRoundId++, start: now, targets: [], outstanding: 0 };
    const out: ProbeRequest[] = [];
    p.targets.forEach((target, index) => {
      const info = this.targetInfo.get(target)!;
      const retry = info.estimator.retryAfter(p.timeout);
      round.targets.push({ target, attempts: [], retryAt: retry === undefined ? undefined : now + retry });
      out.push(this.send(round, index, now));
    });
    this.unjudged.push(round);
    this.inflight.set(round.id, round);
    return out;
  }

  /**
   * The outcome of one probe. Outcomes of rounds dropped since (kernel down, re-sourced,
   * reconfigured) are ignored.
   */
  result(req: Pick<ProbeRequest, 'round' | 'index' | 'attempt'>, res: ProbeResult, now: number): HealthTransition[] {
    const round = this.inflight.get(req.round);
    const attempt = round?.targets[req.index]?.attempts[req.attempt];
    if (!round || !attempt) return [];
    if (--round.outstanding <= 0 && !this.unjudged.includes(round) && round !== this.burst) this.inflight.delete(req.round);
    const target = round.targets[req.index]!.target;
    const info = this.targetInfo.get(target);
    const rtt = res.ok ? (res.rttMs ?? now - attempt.sentAt) : undefined;
    if (info) {
      if (!res.ok) info.failed++;
      info.last = { ok: res.ok, rttMs: rtt, error: res.ok ? undefined : (res.error ?? 'failed'), at: now };
      if (rtt !== undefined) info.estimator.observe(rtt);
      if (rtt !== undefined) this.peaks.observe(now, rtt);
    }
    this.window.add({ at: now, target, ok: res.ok, rttMs: rtt });
    if (attempt.outcome === undefined) {
      const onTime = rtt !== undefined && attempt.sentAt + rtt <= attempt.deadline;
      attempt.outcome = onTime ? 'on-time' : 'failed';
      attempt.error = res.ok ? `late answer (${Math.round(rtt!)}ms, deadline ${attempt.deadline - attempt.sentAt}ms)` : (res.error ?? 'failed');
    }
    return this.judge(now);
  }

  /**
   * Time has passed: the retries now due (to send), and the verdicts of rounds whose deadlines
   * have passed. Call at {@link nextWakeup}.
   */
  poll(now: number): { probes: ProbeRequest[]; transitions: HealthTransition[] } {
    const probes: ProbeRequest[] = [];
    for (const round of this.unjudged) {
      for (const t of round.targets) for (const a of t.attempts) if (a.outcome === undefined && now >= a.deadline) a.expired = true;
      const decided = this.verdict(round, now) !== undefined;
      round.targets.forEach((t, index) => {
        if (t.retryAt === undefined || (!decided && t.retryAt > now)) return;
        t.retryAt = undefined;
        if (decided || t.attempts.some((a) => a.outcome === 'on-time')) return;
        probes.push(this.send(round, index, now));
      });
    }
    const b = this.burst;
    if (b) {
      for (const t of b.targets) for (const a of t.attempts) if (a.outcome === undefined && now >= a.deadline) a.expired = true;
      const answered = b.targets.some((t) => t.attempts.some((a) => a.outcome === 'on-time'));
      b.targets.forEach((t, index) => {
        if (answered || t.retryAt === undefined || t.retryAt > now) return;
        probes.push(this.send(b, index, now));
        const left = --b.burst!.left[index]!;
        t.retryAt = left > 0 ? now + BURST_SPACING_MS : undefined;
      });
    }
    return { probes, transitions: this.judge(now) };
  }

  /** Epoch milliseconds when {@link poll} has something to do (a retry or a deadline), or undefined. */
  nextWakeup(): number | undefined {
    let next: number | undefined;
    const at = (t: number) => {
      if (next === undefined || t < next) next = t;
    };
    // Retries of every round waiting for a verdict; deadlines of the oldest only, since verdicts are
    // applied in order (a later round's passed deadline is judged together with the oldest).
    this.unjudged.forEach((r, i) => {
      for (const t of r.targets) {
        if (t.retryAt !== undefined) at(t.retryAt);
        if (i === 0) for (const a of t.attempts) if (a.outcome === undefined && !a.expired) at(a.deadline);
      }
    });
    for (const t of this.burst?.targets ?? []) {
      if (t.retryAt !== undefined) at(t.retryAt);
      for (const a of t.attempts) if (a.outcome === undefined && !a.expired) at(a.deadline);
    }
    return next;
  }

  /** A kernel verdict: offline at once when not usable; probing (or online without probes) when it becomes usable. */
  setKernel(k: KernelVerdict, now: number): HealthTransition[] {
    if (!k.usable) {
      this.kernelUsable = false;
      this.dropRounds();
      this.goodRun = 0;
      this.badRun = 0;
      return this.move('offline', k.reason, now);
    }
    if (this.kernelUsable) return [];
    this.kernelUsable = true;
    return this.move(this.settings.probe ? 'probing' : 'online', k.reason, now);
  }

  /**
   * New settings after a reload. The state is kept; rounds in flight are dropped (the caller
   * replaces the prober when the probe settings changed), counters and RTT history of targets that
   * stay are kept. Removing the probes puts a usable link online; adding them lets the probes judge
   * the link from its current state.
   */
  reconfigure(settings: TrackerSettings, now: number): HealthTransition[] {
    const had = this.settings.probe !== undefined;
    this.settings = settings;
    this.dropRounds();
    this.passive.setSilence(settings.probe?.passiveSilence ?? 300);
    this.resetPassive();
    this.window.setLength(settings.probe?.window ?? 10_000);
    this.syncTargets();
    if (!this.kernelUsable) return [];
    if (!settings.probe) {
      this.goodRun = 0;
      this.badRun = 0;
      return had ? this.move('online', { kind: 'reconfigured' }, now) : [];
    }
    if (!had) return [];
    return this.checkQuality(now);
  }

  /** Forget rounds in flight: their outcomes, when they come, are ignored. */
  dropRounds(): void {
    this.unjudged = [];
    this.inflight.clear();
    // A suspicion without its burst cannot be decided: forget it (the next samples judge afresh).
    if (this.burst) {
      this.burst = undefined;
      this.resetPassive();
    }
  }

  stats(now: number): WindowStats {
    return this.window.stats(now);
  }

  targets(): TargetStatus[] {
    return [...this.targetInfo.values()].map(({ target, sent, failed, last }) => ({ target, sent, failed, last }));
  }

  /** Good and failed rounds in a row, as counted now. */
  runs(): { good: number; failed: number } {
    return { good: this.goodRun, failed: this.badRun };
  }

  private syncTargets(): void {
    const next = new Map<string, TargetInfo>();
    for (const t of this.settings.probe?.targets ?? [])
      next.set(t, this.targetInfo.get(t) ?? { target: t, sent: 0, failed: 0, last: undefined, estimator: new DeadlineEstimator() });
    this.targetInfo = next;
  }

  private resetPassive(): void {
    this.passive.reset();
    this.txBase = undefined;
  }

  /** The link's RTT for the passive threshold: the highest smoothed RTT of its targets. */
  private linkRtt(): number | undefined {
    let rtt: number | undefined;
    for (const t of this.targetInfo.values()) {
      const s = t.estimator.smoothed;
      if (s !== undefined && (rtt === undefined || s > rtt)) rtt = s;
    }
    return rtt;
  }

  private beginBurst(s: Suspicion, now: number): ProbeRequest[] {
    const p = this.settings.probe!;
    const round: Round = { id: this.nextRoundId++, start: now, targets: [], outstanding: 0, burst: { suspicion: s, left: [] } };
    const out: ProbeRequest[] = [];
    p.targets.forEach((target, index) => {
      round.targets.push({ target, attempts: [], retryAt: BURST_ATTEMPTS > 1 ? now + BURST_SPACING_MS : undefined });
      round.burst!.left.push(BURST_ATTEMPTS - 1);
      out.push(this.send(round, index, now));
    });
    this.burst = round;
    this.inflight.set(round.id, round);
    return out;
  }

  /** The open burst's verdict, once certain: any answer in time clears; all lost confirms unless traffic came back. */
  private judgeBurst(now: number): HealthTransition[] {
    const b = this.burst;
    if (!b) return [];
    let answered = 0;
    let sent = 0;
    let pending = false;
    for (const t of b.targets) {
      sent += t.attempts.length;
      if (t.attempts.some((a) => a.outcome === 'on-time')) answered++;
      if (t.retryAt !== undefined || t.attempts.some((a) => a.outcome === undefined && now < a.deadline)) pending = true;
    }
    if (answered === 0 && pending) return [];
    this.burst = undefined;
    if (b.outstanding <= 0) this.inflight.delete(b.id);
    const s = b.burst!.suspicion;
    if (answered > 0 || this.passive.resumed) {
      const by = answered > 0 ? 'probes' : 'traffic';
      this.passive.settle('cleared', now, by === 'probes' ? `${answered} of ${b.targets.length} targets answered the burst` : 'traffic came back during the burst');
      this.passiveEvents.push({ kind: 'cleared', at: now, silenceMs: s.silenceMs, by, answered, sent, backoff: this.passive.status().backoff });
      return [];
    }
    this.passive.settle('confirmed', now, `${sent}/${sent} burst probes lost`);
    this.passiveEvents.push({ kind: 'confirmed', at: now, silenceMs: s.silenceMs, lost: sent, sent });
    this.goodRun = 0;
    return this.move('offline', { kind: 'traffic-silent', silenceMs: s.silenceMs, thresholdMs: s.thresholdMs, lost: sent, sent }, now);
  }

  private judge(now: number): HealthTransition[] {
    const out: HealthTransition[] = [];
    while (this.unjudged.length > 0) {
      const round = this.unjudged[0]!;
      const verdict = this.verdict(round, now);
      if (verdict === undefined) break;
      this.unjudged.shift();
      if (round.outstanding <= 0) this.inflight.delete(round.id);
      out.push(...this.apply(verdict, round, now));
    }
    out.push(...this.judgeBurst(now));
    return out;
  }

  private send(round: Round, index: number, now: number): ProbeRequest {
    const p = this.settings.probe!;
    const t = round.targets[index]!;
    const info = this.targetInfo.get(t.target)!;
    info.sent++;
    this.probesSent++;
    round.outstanding++;
    let wait = info.estimator.deadline(p.timeout);
    // A burst waits at least as long as the link's slowest recent answer (its stalls), within the timeout.
    if (round.burst) wait = Math.min(p.timeout, Math.max(wait, this.peaks.max(now) ?? 0));
    t.attempts.push({ sentAt: now, deadline: now + wait, outcome: undefined, error: undefined, expired: false });
    return { round: round.id, index, attempt: t.attempts.length - 1, target: t.target };
  }

  private verdict(round: Round, now: number): 'good' | 'failed' | undefined {
    const need = this.settings.probe?.reliability ?? 1;
    let good = 0;
    let dead = 0;
    for (const t of round.targets) {
      if (t.attempts.some((a) => a.outcome === 'on-time')) good++;
      else if (t.retryAt === undefined && t.attempts.every((a) => a.outcome === 'failed' || now >= a.deadline)) dead++;
    }
    if (good >= need) return 'good';
    if (dead > round.targets.length - need) return 'failed';
    return undefined;
  }

  private apply(verdict: 'good' | 'failed', round: Round, now: number): HealthTransition[] {
    const p = this.settings.probe!;
    if (verdict === 'good') {
      this.goodRun++;
      this.badRun = 0;
      if ((this.stateValue === 'probing' || this.stateValue === 'offline') && this.goodRun >= p.up) {
        // A fresh start for the quality figures: the outage is over, its losses are history.
        if (this.stateValue === 'offline') this.window.clear();
        return [...this.move('online', { kind: 'probes-ok', rounds: this.goodRun, threshold: p.up }, now), ...this.checkQuality(now)];
      }
      return this.checkQuality(now);
    }
    this.badRun++;
    this.goodRun = 0;
    if (this.stateValue !== 'offline' && this.badRun >= p.down) {
      const attempts = round.targets.flatMap((t) => t.attempts);
      const last = attempts[attempts.length - 1]!;
      const error = attempts.find((a) => a.outcome === 'failed')?.error ?? `no answer within ${last.deadline - last.sentAt}ms`;
      return this.move('offline', { kind: 'probes-failed', rounds: this.badRun, threshold: p.down, error }, now);
    }
    return this.checkQuality(now);
  }

  private checkQuality(now: number): HealthTransition[] {
    if (this.stateValue !== 'online' && this.stateValue !== 'degraded') return [];
    if (!this.settings.probe?.quality && this.stateValue === 'online') return [];
    const q = judgeQuality(this.settings.probe?.quality, this.window.stats(now), this.stateValue === 'degraded');
    if (!q) return [];
    return this.move(q.degraded ? 'degraded' : 'online', q.reason, now);
  }

  private move(state: HealthState, reason: StateReason, now: number): HealthTransition[] {
    const prev = this.stateValue;
    if (prev === state && sameReasonKind(this.reasonValue, reason)) return [];
    this.stateValue = state;
    this.reasonValue = reason;
    if (prev !== state) this.sinceValue = now;
    if (!this.watchesTraffic) {
      // Not online any more: an open suspicion has no meaning now.
      if (this.burst) {
        this.inflight.delete(this.burst.id);
        this.burst = undefined;
      }
      this.resetPassive();
    }
    return [{ state, prev, reason, at: now }];
  }
}

function sameReasonKind(a: StateReason, b: StateReason): boolean {
  return a.kind === b.kind;
}
