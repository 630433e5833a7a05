/**
 * HealthManager: the daemon's entry point to link health. It owns one {@link LinkRunner} per
 * configured link, the kernel monitor that feeds them their observations, the overrides (operator
 * and schedules) and the state-change hooks, and emits a `change` event for every change of a
 * link's view (state, reason, weight, kernel observation) with the view before it.
 *
 * Lifecycle: `start()` subscribes to rtnetlink and dumps, creates the runners from what the kernel
 * says (an interface without carrier starts offline, not probing), arms the schedules (catching up
 * with a window that is open now) and starts probing; `reload(config)` keeps the state, counters
 * and overrides of every link that keeps its name (a changed interface starts over, keeping its
 * overrides); `stop()` ends timers, probers, schedules and the rtnetlink subscription.
 *
 * Passive signal: with a {@link TrafficSource}, every interface's counters are read every 100 ms
 * (and when a link's silent period is due to reach its threshold) while some link watches its
 * traffic, and handed to the links; each suspicion and its outcome is
 * one log line and a `passive` event (rate bounded by the detector's backoff).
 *
 * Every state change is one pino line `{link, state, prev, reason}` (the typed reason with its
 * measured value and threshold) and runs the hooks; addressing changes are logged with the new
 * source addresses and next hops. Not re-entrant across awaits: call `reload` and `override` from
 * the daemon's event loop, not concurrently with `start`.
 */
import { EventEmitter } from 'node:events';
import type { Config, LinkConfig } from '../config/schema.js';
import { suggest } from '../config/validate.js';
import { WanbraidError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { describeReason, type LinkObservation, type LinkView, type StateReason } from '../model.js';
import { HookRunner, type HookSink } from '../status/hooks.js';
import type { MetricFamily } from '../status/metrics.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { KernelSource } from './kernel.js';
import { LinkRunner } from './link-runner.js';
import { healthMetricFamilies } from './metrics.js';
import { KernelMonitor } from './monitor.js';
import { observeLink, sameObservation } from './observe.js';
import {
  activeOverride,
  expire,
  keepSchedules,
  nextExpiry,
  operatorAction,
  scheduleFired,
  type OperatorAction,
  type OverrideState,
} from './overrides.js';
import type { ProberFactory } from './prober.js';
import { CronScheduleDriver, scheduleKey, scheduleSpecs, type ScheduleDriver, type ScheduleSpec } from './schedules.js';
import type { HealthStatus, LinkHealth } from './status.js';
import type { PassiveEvent } from './tracker.js';
import { TrafficSampler, type TrafficSource } from './traffic.js';

export interface HealthManagerOptions {
  logger: Logger;
  config: Config;
  /** rtnetlink: links, addresses, main-table default routes (rtnl-source.ts adapts kernel/rtnl). */
  kernel: KernelSource;
  /** Makes one link's prober (health/probers/ createProber). */
  createProber: ProberFactory;
  clock?: Clock;
  /** Default: node-cron. */
  schedules?: ScheduleDriver;
  /** Wall-clock epoch milliseconds, for cron catch-up (default Date.now). */
  wallNow?: () => number;
  /** rtm_protocol of wanbraid's own routes, never learned as a gateway. */
  ownRouteProtocol?: number;
  /** Override the hook runner made from `config.hooks` (tests); null = no hooks. */
  hooks?: HookSink | null;
  /** The next hop a dial session's client reported for a link (src/dial/supervisor.ts); call {@link HealthManager.refresh} when it changes. */
  leaseGateway?: (link: string) => { ipv4?: string; ipv6?: string } | undefined;
  /** Interface counters for the passive signal (rtnl-source.ts RtnlTrafficSource); absent = no passive signal. */
  traffic?: TrafficSource;
}

/** A suspicion or its outcome on one link. */
export type PassiveNotice = PassiveEvent & { link: string };

export interface HealthEvents {
  /** A link's view changed; `prev` is undefined when the link was just added (start, reload). */
  change: [view: LinkView, prev: LinkView | undefined];
  /** A link left the configuration on reload. */
  removed: [prev: LinkView];
  /** The passive signal made a link suspect, or a burst decided a suspicion. */
  passive: [notice: PassiveNotice];
}

export class HealthManager extends EventEmitter<HealthEvents> {
  private config: Config;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly monitor: KernelMonitor;
  private readonly driver: ScheduleDriver;
  private readonly wallNow: () => number;
  private runners = new Map<string, LinkRunner>();
  private specs: ScheduleSpec[] = [];
  private hooks: HookSink | null;
  private readonly hooksInjected: boolean;
  private expiryTimer: TimerHandle | undefined;
  private sampler: TrafficSampler | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly opts: HealthManagerOptions) {
    super();
    this.config = opts.config;
    this.logger = opts.logger;
    this.clock = opts.clock ?? systemClock;
    this.monitor = new KernelMonitor(opts.kernel, opts.logger);
    this.driver = opts.schedules ?? new CronScheduleDriver();
    this.wallNow = opts.wallNow ?? Date.now;
    this.hooksInjected = opts.hooks !== undefined;
    this.hooks = opts.hooks !== undefined ? opts.hooks : this.makeHooks(opts.config);
  }

  async start(): Promise<void> {
    if (this.started) throw new WanbraidError('WB_INTERNAL', 'health: start() called twice');
    this.started = true;
    this.monitor.onChange(() => this.onKernelChange());
    await this.monitor.start();
    if (this.stopped) return;
    for (const l of this.config.links) this.addLink(l, undefined);
    this.armSchedules(new Set());
    for (const r of this.runners.values()) r.start();
    if (this.opts.traffic) {
      this.sampler = new TrafficSampler({
        source: this.opts.traffic,
        clock: this.clock,
        wanted: () => [...this.runners.values()].some((r) => r.watchesTraffic),
        busy: () => [...this.runners.values()].some((r) => r.carriesTraffic),
        dueAt: () => {
          let due: number | undefined;
          for (const r of this.runners.values()) {
            const d = r.trafficDueAt();
            if (d !== undefined && (due === undefined || d < due)) due = d;
          }
          return due;
        },
        onSample: (counters, at) => {
          for (const r of this.runners.values()) {
            const ifindex = r.view.observation.ifindex;
            const c = ifindex === undefined ? undefined : counters.get(ifindex);
            if (c && r.watchesTraffic) r.traffic({ at, txPackets: c.txPackets, rxPackets: c.rxPackets });
          }
        },
        onError: (err) => this.logger.warn({ op: 'passive', err: errorMessage(err) }, 'passive signal: reading or judging the interface counters failed; probe rounds still decide'),
      });
      this.sampler.start();
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.driver.disarm();
    this.clock.clearTimer(this.expiryTimer);
    for (const r of this.runners.values()) r.stop();
    await this.sampler?.stop();
    await this.monitor.stop();
  }

  /** Apply a new configuration: unchanged links keep everything; overrides survive. */
  reload(config: Config): void {
    if (!this.started || this.stopped) {
      this.config = config;
      return;
    }
    const next = new Map(config.links.map((l) => [l.name, l]));
    for (const [name, r] of this.runners) {
      const cfg = next.get(name);
      if (!cfg) {
        r.stop();
        this.runners.delete(name);
        this.logger.info({ link: name, op: 'remove' }, 'link removed from the configuration');
        this.emit('removed', r.view);
      } else if (cfg.interface !== r.config.interface) {
        r.stop();
        this.runners.delete(name);
        this.logger.info({ link: name, op: 'reconfigure', interface: cfg.interface, prevInterface: r.config.interface }, 'link moved to another interface');
        this.addLink(cfg, r.overrides).start();
      } else if (JSON.stringify(cfg) !== JSON.stringify(r.config)) {
        r.reconfigure(cfg);
      }
    }
    for (const cfg of config.links) if (!this.runners.has(cfg.name)) this.addLink(cfg, undefined).start();
    // Keep the runners in config order.
    this.runners = new Map(config.links.map((l) => [l.name, this.runners.get(l.name)!]));
    const unchanged = new Set(scheduleSpecs(config).map(scheduleKey).filter((k) => this.specs.some((s) => scheduleKey(s) === k)));
    if (!this.hooksInjected && JSON.stringify(config.hooks) !== JSON.stringify(this.config.hooks)) this.hooks = this.makeHooks(config);
    this.config = config;
    this.armSchedules(unchanged);
    this.onKernelChange();
  }

  /** Every link's view, in configuration order. */
  views(): LinkView[] {
    return [...this.runners.values()].map((r) => r.view);
  }

  view(link: string): LinkView | undefined {
    return this.runners.get(link)?.view;
  }

  /** The operator's `wanbraid link NAME down|up|auto`. Throws WB_REQUEST_INVALID for an unknown link. */
  override(link: string, action: OperatorAction): LinkView {
    const r = this.runner(link);
    const now = this.clock.now();
    this.logger.info({ link, op: 'override', action }, `operator: ${action}`);
    r.setOverrides(operatorAction(r.overrides, action, now), { kind: 'manual', action });
    this.armExpiry();
    return r.view;
  }

  status(): HealthStatus {
    return { links: [...this.runners.values()].map((r) => this.linkStatus(r)) };
  }

  /** Prometheus families for the metrics endpoint (status/metrics-server.ts). */
  metrics(): MetricFamily[] {
    return healthMetricFamilies(this.status().links);
  }

  /** Resolves when every hook queued so far has run (tests, orderly shutdown). */
  async hooksIdle(): Promise<void> {
    await this.hooks?.idle();
  }

  // -------------------------------------------------------------------------------------------

  private runner(link: string): LinkRunner {
    const r = this.runners.get(link);
    if (!r) throw new WanbraidError('WB_REQUEST_INVALID', `unknown link "${link}"${suggest(link, [...this.runners.keys()])}`);
    return r;
  }

  private makeHooks(config: Config): HookSink | null {
    if (!config.hooks) return null;
    const hooks = new HookRunner({ dir: config.hooks.dir, timeoutMs: config.hooks.timeout, logger: this.logger });
    // At start and when a reload changes `hooks`: an untrusted directory or hook is an error in the log now, not at the first change.
    void hooks.audit();
    return hooks;
  }

  /** Look at every link again (a lease's next hop changed: it is not a kernel event). */
  refresh(): void {
    this.onKernelChange();
  }

  private observe(cfg: LinkConfig, prev: LinkObservation | undefined): LinkObservation {
    const opts = this.opts.ownRouteProtocol === undefined ? {} : { ownProtocol: this.opts.ownRouteProtocol };
    return observeLink(this.monitor.table, cfg, prev, { ...opts, lease: this.opts.leaseGateway?.(cfg.name) });
  }

  private addLink(cfg: LinkConfig, overrides: OverrideState | undefined): LinkRunner {
    const r = new LinkRunner(
      cfg,
      this.observe(cfg, undefined),
      {
        clock: this.clock,
        createProber: this.opts.createProber,
        onChange: (view, prev) => this.onViewChange(view, prev),
        onPassive: (e) => this.onPassive(cfg.name, e),
        onError: (op, err) => this.logger.error({ link: cfg.name, op, err: errorMessage(err) }, `${op} failed`),
      },
      overrides,
    );
    this.runners.set(cfg.name, r);
    const v = r.view;
    this.logger.info({ link: v.name, state: v.state, prev: null, reason: v.reason, ...addressing(v.observation) }, describeReason(v.reason));
    this.emit('change', v, undefined);
    return r;
  }

  private onKernelChange(): void {
    if (this.stopped) return;
    for (const r of this.runners.values()) {
      const obs = this.observe(r.config, r.view.observation);
      if (!sameObservation(r.view.observation, obs)) r.setObservation(obs);
    }
  }

  private onPassive(link: string, e: PassiveEvent): void {
    switch (e.kind) {
      case 'suspect':
        this.logger.info({ link, op: 'passive', phase: 'suspect', silenceMs: e.silenceMs, thresholdMs: e.thresholdMs, txPackets: e.txPackets, probes: e.probes }, `link suspect: ${e.txPackets} packets out and nothing in for ${e.silenceMs} ms (threshold ${e.thresholdMs} ms); burst of ${e.probes} probes`);
        break;
      case 'cleared':
        this.logger.info({ link, op: 'passive', phase: 'cleared', silenceMs: e.silenceMs, by: e.by, answered: e.answered, sent: e.sent, backoff: e.backoff }, `suspicion cleared: ${e.by === 'probes' ? `${e.answered} targets answered the burst` : 'traffic came back'} (threshold now ×${2 ** e.backoff})`);
        break;
      case 'confirmed':
        this.logger.info({ link, op: 'passive', phase: 'confirmed', silenceMs: e.silenceMs, lost: e.lost, sent: e.sent }, `suspicion confirmed: ${e.lost}/${e.sent} burst probes lost`);
        break;
    }
    this.emit('passive', { link, ...e });
  }

  private onViewChange(view: LinkView, prev: LinkView): void {
    if (view.state !== prev.state || JSON.stringify(view.reason) !== JSON.stringify(prev.reason)) {
      this.logger.info({ link: view.name, state: view.state, prev: prev.state, reason: view.reason, weight: view.weight }, describeReason(view.reason));
    } else if (view.weight !== prev.weight) {
      this.logger.info({ link: view.name, state: view.state, op: 'weight', weight: view.weight, prevWeight: prev.weight }, 'link weight changed');
    }
    if (view.observation !== prev.observation && !sameAddressing(view.observation, prev.observation)) {
      this.logger.info({ link: view.name, op: 'addressing', ...addressing(view.observation) }, 'link addressing changed');
    }
    if (view.state !== prev.state && this.hooks) {
      void this.hooks.run({
        link: view.name,
        device: view.interface,
        state: view.state,
        prev: prev.state,
        reason: view.reason.kind,
        reasonText: describeReason(view.reason),
        since: view.since,
      });
    }
    this.emit('change', view, prev);
  }

  // Schedules --------------------------------------------------------------------------------

  /** (Re)arm node-cron; windows of schedules not in `keep` end, and open windows are caught up with. */
  private armSchedules(keep: ReadonlySet<string>): void {
    const specs = scheduleSpecs(this.config);
    const names = new Set(specs.filter((s) => keep.has(scheduleKey(s))).map((s) => s.name));
    const now = this.clock.now();
    const wall = this.wallNow();
    for (const r of this.runners.values()) {
      let o = keepSchedules(r.overrides, names);
      for (const s of specs) {
        if (s.link !== r.name || s.durationMs === undefined || names.has(s.name)) continue;
        const fired = this.driver.lastFire(s, wall, s.durationMs);
        if (fired === undefined) continue;
        o = scheduleFired(o, s, now - (wall - fired));
        this.logger.info({ link: r.name, op: 'schedule', schedule: s.name, action: s.action, since: new Date(fired).toISOString() }, `schedule ${s.name}: window open since ${new Date(fired).toISOString()}`);
      }
      if (o !== r.overrides) r.setOverrides(o, causeOf(o, now));
    }
    this.specs = specs;
    this.driver.arm(specs, (s) => this.onScheduleFired(s));
    this.armExpiry();
  }

  private onScheduleFired(s: ScheduleSpec): void {
    if (this.stopped) return;
    const r = this.runners.get(s.link);
    if (!r) return;
    this.logger.info({ link: s.link, op: 'schedule', schedule: s.name, action: s.action, durationMs: s.durationMs }, `schedule ${s.name}: ${s.action}`);
    r.setOverrides(scheduleFired(r.overrides, s, this.clock.now()), { kind: 'schedule', schedule: s.name, action: s.action });
    this.armExpiry();
  }

  private armExpiry(): void {
    this.clock.clearTimer(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    let next: number | undefined;
    for (const r of this.runners.values()) {
      const t = nextExpiry(r.overrides, now);
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    if (next === undefined) return;
    this.expiryTimer = this.clock.setTimer(() => this.onExpiry(), next - now);
  }

  private onExpiry(): void {
    this.expiryTimer = undefined;
    const now = this.clock.now();
    for (const r of this.runners.values()) {
      const before = r.overrides;
      const after = expire(before, now);
      if (after === before) continue;
      const ended = before.windows.find((w) => w.until <= now);
      r.setOverrides(after, ended ? { kind: 'schedule', schedule: ended.schedule, action: 'end' } : undefined);
    }
    this.armExpiry();
  }

  private linkStatus(r: LinkRunner): LinkHealth {
    const v = r.view;
    const st = r.stats();
    const now = this.clock.now();
    const wallOffset = this.wallNow() - now;
    return {
      name: v.name,
      interface: v.interface,
      state: v.state,
      since: v.since,
      reason: v.reason,
      reasonText: describeReason(v.reason),
      weight: v.weight,
      health: r.health() as LinkHealth['health'],
      method: r.config.probe?.method,
      windowMs: r.config.probe?.window,
      rttMs: st.rttMeanMs,
      rttLastMs: st.rttLastMs,
      lossPct: st.lossPct,
      jitterMs: st.jitterMs,
      targets: r.targets(),
      passive: r.passive(),
      override: r.activeOverride(),
      schedules: this.specs
        .filter((s) => s.link === v.name)
        .map((s) => {
          const w = r.overrides.windows.find((x) => x.schedule === s.name && x.since <= now && now < x.until);
          const next = this.driver.nextRun(s.name);
          return {
            name: s.name,
            cron: s.cron,
            action: s.action,
            durationMs: s.durationMs,
            timezone: s.timezone,
            nextRun: next === undefined ? undefined : next - wallOffset,
            activeUntil: w?.until,
          };
        }),
      observation: v.observation,
      transitions: r.transitions,
    };
  }
}

/** The reason to show when catching up changed a link's override. */
function causeOf(o: OverrideState, now: number): StateReason | undefined {
  const a = activeOverride(o, now);
  if (!a) return undefined;
  return a.source.kind === 'schedule' ? { kind: 'schedule', schedule: a.source.schedule, action: a.action } : { kind: 'manual', action: a.action };
}

function addressing(o: LinkObservation): Record<string, unknown> {
  const fam = (f: LinkObservation['ipv4']) => (f ? `${f.address}/${f.prefixLen} via ${f.gateway ?? (f.gatewaySource === 'none' ? 'none' : 'dev')} (${f.gatewaySource})` : null);
  return { ifindex: o.ifindex ?? null, ipv4: fam(o.ipv4), ipv6: fam(o.ipv6) };
}

function sameAddressing(a: LinkObservation, b: LinkObservation): boolean {
  return JSON.stringify([a.ifindex, a.ipv4, a.ipv6]) === JSON.stringify([b.ifindex, b.ipv4, b.ipv6]);
}
