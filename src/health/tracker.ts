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
 */
import type { ProbeConfig } from '../config/schema.js';
import type { StateReason } from '../model.js';
import { DeadlineEstimator } from './deadline.js';
import type { ProbeResult } from './prober.js';
import { judgeQuality } from './quality.js';
import { QualityWindow, type WindowStats } from './window.js';

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

  constructor(settings: TrackerSettings, kernel: KernelVerdict, now: number) {
    this.settings = settings;
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
    if (--round.outstanding <= 0 && !this.unjudged.includes(round)) this.inflight.delete(req.round);
    const target = round.targets[req.index]!.target;
    const info = this.targetInfo.get(target);
    const rtt = res.ok ? (res.rttMs ?? now - attempt.sentAt) : undefined;
    if (info) {
      if (!res.ok) info.failed++;
      info.last = { ok: res.ok, rttMs: rtt, error: res.ok ? undefined : (res.error ?? 'failed'), at: now };
      if (rtt !== undefined) info.estimator.observe(rtt);
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
    return out;
  }

  private send(round: Round, index: number, now: number): ProbeRequest {
    const p = this.settings.probe!;
    const t = round.targets[index]!;
    const info = this.targetInfo.get(t.target)!;
    info.sent++;
    round.outstanding++;
    t.attempts.push({ sentAt: now, deadline: now + info.estimator.deadline(p.timeout), outcome: undefined, error: undefined, expired: false });
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
    return [{ state, prev, reason, at: now }];
  }
}

function sameReasonKind(a: StateReason, b: StateReason): boolean {
  return a.kind === b.kind;
}
