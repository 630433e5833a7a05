/**
 * One link at runtime: the thin shell around its {@link LinkTracker}. It owns the link's timers
 * (one for the next round, one for the tracker's next retry or verdict deadline), its prober, its kernel observation
 * and its overrides, and composes the {@link LinkView} the rest of the daemon sees.
 *
 * - Rounds start every `interval` on a fixed cadence (a late timer does not shift later rounds;
 *   after a stall longer than an interval the cadence restarts from now). A round starts at once
 *   when the kernel makes the link usable again, so recovery does not wait for the cadence.
 * - The prober is created with the link's current source address per family and replaced when
 *   that address or the probe settings change; rounds in flight on the old one are dropped and the
 *   cadence goes on (no extra round: a burst of address events must not become a burst of rounds
 *   sent before the planner has moved the link's source rule).
 * - A target of a family the link has no usable address for fails at once ("no IPv6 address").
 * - View = health state, with overrides on top (overrides.ts): `down` → disabled; `up` → online
 *   while the kernel says the link is usable. When an override starts or ends, the change carries
 *   the override's reason (operator / schedule) until health itself changes again.
 *
 * - Passive signal: the manager hands in the interface counters (`traffic`); a suspicion's burst
 *   is sent at once through the link's prober, and each suspicion and outcome goes to `onPassive`.
 *
 * Every change of the view (state, reason, weight, observation) goes to `onChange(view, prev)`.
 */
import type { LinkConfig, ProbeConfig } from '../config/schema.js';
import type { LinkObservation, LinkView, StateReason } from '../model.js';
import { errorMessage } from '../errors.js';
import { ipFamily } from '../config/values.js';
import type { Clock, TimerHandle } from './clock.js';
import { kernelVerdict, usableFamilies } from './observe.js';
import { NO_OVERRIDE, activeOverride, type ActiveOverride, type OverrideState } from './overrides.js';
import type { ProbeResult, Prober, ProberFactory, ProbeSource } from './prober.js';
import { effectiveWeight } from './quality.js';
import { LinkTracker, type KernelVerdict, type LinkCounters, type PassiveEvent, type ProbeRequest, type TargetStatus } from './tracker.js';
import type { PassiveStatus } from './passive.js';
import type { WindowStats } from './window.js';

export interface LinkRunnerDeps {
  clock: Clock;
  createProber: ProberFactory;
  onChange: (view: LinkView, prev: LinkView) => void;
  /** A suspicion of the passive signal, or its outcome. */
  onPassive?: (e: PassiveEvent) => void;
  /** A prober that could not be created or closed: logged by the manager. */
  onError: (op: string, err: unknown) => void;
}

export class LinkRunner {
  private cfg: LinkConfig;
  private readonly tracker: LinkTracker;
  private observation: LinkObservation;
  private verdict: KernelVerdict;
  private overridesValue: OverrideState = NO_OVERRIDE;
  private viewValue: LinkView;
  /** The layered (state, reason) of the last refresh: a change in it is a change of the view. */
  private base: { state: LinkView['state']; reason: string };
  private prober: { key: string; prober: Prober } | undefined;
  private roundTimer: TimerHandle | undefined;
  private wakeTimer: TimerHandle | undefined;
  private nextRoundAt: number | undefined;
  private stopped = false;
  private transitionCount = 0;

  constructor(
    cfg: LinkConfig,
    observation: LinkObservation,
    private readonly deps: LinkRunnerDeps,
    overrides: OverrideState = NO_OVERRIDE,
  ) {
    this.cfg = cfg;
    this.observation = observation;
    this.verdict = kernelVerdict(observation);
    this.overridesValue = overrides;
    const now = deps.clock.now();
    this.tracker = new LinkTracker({ probe: cfg.probe, initialState: cfg.initialState }, this.verdict, now);
    const layered = this.layered(now);
    this.base = { state: layered.state, reason: JSON.stringify(layered.reason) };
    this.viewValue = this.makeView(layered.state, layered.reason, now);
  }

  get name(): string {
    return this.cfg.name;
  }
  get config(): LinkConfig {
    return this.cfg;
  }
  get view(): LinkView {
    return this.viewValue;
  }
  get overrides(): OverrideState {
    return this.overridesValue;
  }
  /** View state changes since this runner was created. */
  get transitions(): number {
    return this.transitionCount;
  }

  /** Begin probing (when the link is usable and has probes). */
  start(): void {
    this.syncProbing(true);
  }

  stop(): void {
    this.stopped = true;
    this.deps.clock.clearTimer(this.roundTimer);
    this.deps.clock.clearTimer(this.wakeTimer);
    this.roundTimer = this.wakeTimer = undefined;
    this.tracker.dropRounds();
    this.closeProber();
  }

  /** What the kernel says now. */
  setObservation(obs: LinkObservation): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    this.observation = obs;
    const wasUsable = this.verdict.usable;
    this.verdict = kernelVerdict(obs, this.verdict);
    // The tracker's transitions show in the view, recomputed below.
    this.tracker.setKernel(this.verdict, now);
    this.syncProbing(!wasUsable && this.verdict.usable);
    this.refresh(now);
  }

  /** New overrides (operator or schedule); `cause` becomes the reason if the state changes. */
  setOverrides(o: OverrideState, cause?: StateReason): void {
    if (this.stopped) return;
    this.overridesValue = o;
    this.refresh(this.deps.clock.now(), cause);
  }

  /** The override in force now. */
  activeOverride(): ActiveOverride | undefined {
    return activeOverride(this.overridesValue, this.deps.clock.now());
  }

  /** A reload with this link's new settings (same interface). */
  reconfigure(cfg: LinkConfig): void {
    if (this.stopped) return;
    const probeChanged = JSON.stringify(cfg.probe) !== JSON.stringify(this.cfg.probe);
    this.cfg = cfg;
    const now = this.deps.clock.now();
    if (probeChanged) {
      this.tracker.reconfigure({ probe: cfg.probe, initialState: cfg.initialState }, now);
      this.syncProbing(true);
    }
    this.refresh(now);
  }

  health(): { state: string; since: number; reason: StateReason } {
    return { state: this.tracker.state, since: this.tracker.since, reason: this.tracker.reason };
  }

  stats(): WindowStats {
    return this.tracker.stats(this.deps.clock.now());
  }

  targets(): TargetStatus[] {
    return this.tracker.targets();
  }

  passive(): PassiveStatus & { enabled: boolean } {
    return this.tracker.passiveStatus();
  }

  /** True while the passive signal wants the link's counters (online or degraded, passive on). */
  get watchesTraffic(): boolean {
    return !this.stopped && this.tracker.watchesTraffic;
  }

  /** The link is watched and carries traffic now (see tracker.ts). */
  get carriesTraffic(): boolean {
    return !this.stopped && this.tracker.carriesTraffic;
  }

  /** When the passive signal wants the next reading (a silent period's threshold), or undefined. */
  trafficDueAt(): number | undefined {
    return this.stopped ? undefined : this.tracker.trafficDueAt();
  }

  /** One reading of the link's interface counters (passive signal). */
  traffic(c: LinkCounters): void {
    if (this.stopped) return;
    const reqs = this.tracker.traffic(c);
    const probe = this.cfg.probe;
    if (probe) for (const r of reqs) this.send(probe, r);
    this.flushPassive();
    if (reqs.length > 0) this.armWakeup();
  }

  private flushPassive(): void {
    const evs = this.tracker.takePassiveEvents();
    if (this.deps.onPassive) for (const e of evs) this.deps.onPassive(e);
  }

  // -------------------------------------------------------------------------------------------

  private source(): ProbeSource {
    const fams = usableFamilies(this.observation);
    const s: ProbeSource = {};
    if (fams.ipv4 && this.observation.ipv4) s.ipv4 = this.observation.ipv4.address;
    if (fams.ipv6 && this.observation.ipv6) s.ipv6 = this.observation.ipv6.address;
    return s;
  }

  /** Make the prober and the round timer match what the tracker wants now. */
  private syncProbing(roundNow: boolean): void {
    const probe = this.cfg.probe;
    if (!probe || !this.tracker.sendsProbes) {
      this.closeProber();
      this.deps.clock.clearTimer(this.roundTimer);
      this.roundTimer = undefined;
      this.nextRoundAt = undefined;
      this.armWakeup();
      return;
    }
    const source = this.source();
    const key = JSON.stringify([probe, source]);
    if (this.prober?.key !== key) {
      const hadOne = this.prober !== undefined;
      this.closeProber();
      if (hadOne) this.tracker.dropRounds();
      try {
        this.prober = { key, prober: this.deps.createProber(probe, source) };
      } catch (err) {
        this.deps.onError('create-prober', err);
        this.prober = undefined;
      }
    }
    if (roundNow || this.roundTimer === undefined) this.scheduleRound(this.deps.clock.now() + (roundNow ? 0 : probe.interval));
  }

  private scheduleRound(at: number): void {
    this.deps.clock.clearTimer(this.roundTimer);
    this.nextRoundAt = at;
    this.roundTimer = this.deps.clock.setTimer(() => this.onRoundTimer(), at - this.deps.clock.now());
  }

  private onRoundTimer(): void {
    this.roundTimer = undefined;
    const probe = this.cfg.probe;
    if (this.stopped || !probe) return;
    const now = this.deps.clock.now();
    this.runRound(probe, now);
    let next = (this.nextRoundAt ?? now) + probe.interval;
    if (next <= now) next = now + probe.interval;
    this.scheduleRound(next);
  }

  private runRound(probe: ProbeConfig, now: number): void {
    const reqs = this.tracker.beginRound(now);
    if (!reqs) return;
    for (const r of reqs) this.send(probe, r);
    this.armWakeup();
  }

  private send(probe: ProbeConfig, req: ProbeRequest): void {
    const prober = this.prober?.prober;
    const fam = ipFamily(req.target);
    const source = this.source();
    const have = fam === 6 ? source.ipv6 : source.ipv4;
    if (!prober || !have) {
      this.onResult(req, { ok: false, error: !have ? `no usable IPv${fam ?? 4} address on ${this.cfg.interface}` : 'prober unavailable' });
      return;
    }
    let p: Promise<ProbeResult>;
    try {
      p = prober.probe(req.target, probe.timeout);
    } catch (err) {
      p = Promise.resolve({ ok: false, error: errorMessage(err) });
    }
    p.then(
      (r) => this.onResult(req, r),
      (err: unknown) => this.onResult(req, { ok: false, error: errorMessage(err) }),
    );
  }

  private onResult(req: ProbeRequest, r: ProbeResult): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    this.tracker.result(req, r, now);
    this.flushPassive();
    this.armWakeup();
    this.refresh(now);
  }

  /** One timer for the tracker's next retry or verdict deadline. */
  private armWakeup(): void {
    const at = this.tracker.nextWakeup();
    this.deps.clock.clearTimer(this.wakeTimer);
    this.wakeTimer = undefined;
    if (at === undefined || this.stopped) return;
    this.wakeTimer = this.deps.clock.setTimer(() => {
      this.wakeTimer = undefined;
      const now = this.deps.clock.now();
      const { probes } = this.tracker.poll(now);
      const probe = this.cfg.probe;
      if (probe) for (const r of probes) this.send(probe, r);
      this.flushPassive();
      this.armWakeup();
      this.refresh(now);
    }, at - this.deps.clock.now());
  }

  private closeProber(): void {
    const p = this.prober;
    this.prober = undefined;
    if (!p) return;
    try {
      void Promise.resolve(p.prober.close()).catch((err: unknown) => this.deps.onError('close-prober', err));
    } catch (err) {
      this.deps.onError('close-prober', err);
    }
  }

  private layered(now: number): { state: LinkView['state']; reason: StateReason } {
    const ov = activeOverride(this.overridesValue, now);
    if (ov?.action === 'down') return { state: 'disabled', reason: overrideReason(ov) };
    if (ov?.action === 'up' && this.verdict.usable) return { state: 'online', reason: overrideReason(ov) };
    return { state: this.tracker.state, reason: this.tracker.reason };
  }

  private makeView(state: LinkView['state'], reason: StateReason, since: number): LinkView {
    return {
      name: this.cfg.name,
      interface: this.cfg.interface,
      state,
      since,
      reason,
      weight: effectiveWeight(state, this.cfg),
      observation: this.observation,
    };
  }

  /** Recompute the view; report it when anything in it changed. */
  refresh(now: number, cause?: StateReason): void {
    const prev = this.viewValue;
    const layered = this.layered(now);
    const baseReason = JSON.stringify(layered.reason);
    let state = prev.state;
    let reason = prev.reason;
    let since = prev.since;
    if (layered.state !== this.base.state || baseReason !== this.base.reason) {
      this.base = { state: layered.state, reason: baseReason };
      state = layered.state;
      reason = cause && layered.state !== prev.state ? cause : layered.reason;
      if (state !== prev.state) {
        since = now;
        this.transitionCount++;
      }
    }
    const next = this.makeView(state, reason, since);
    if (
      next.state === prev.state &&
      next.weight === prev.weight &&
      next.observation === prev.observation &&
      JSON.stringify(next.reason) === JSON.stringify(prev.reason)
    )
      return;
    this.viewValue = next;
    this.deps.onChange(next, prev);
  }
}

function overrideReason(o: ActiveOverride): StateReason {
  return o.source.kind === 'operator' ? { kind: 'manual', action: o.action } : { kind: 'schedule', schedule: o.source.schedule, action: o.action };
}
