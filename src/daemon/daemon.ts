/**
 * The daemon: owns the configuration, the control socket and the subsystems, and runs their
 * lifecycle. Contract:
 * - `Daemon.load` validates the configuration before anything on the system is touched; an
 *   invalid one is refused with every problem listed.
 * - `preflight` (called by `wanbraid run` before `start`) probes the tools and kernel features the
 *   configuration needs (./preflight.ts); a missing one refuses the start before anything exists.
 * - `start` brings up, in order: the control socket, the dashboard (`web`: a bad token file
 *   refuses the start; from here it sees every event published), the relay roles (whose key files
 *   are read first: a bad key refuses the start before the kernel is touched), link health, and
 *   balancing;
 *   it resolves once they run. systemd is told READY=1 only after an apply of the plan without
 *   failures (at once when there are no links): while applies fail, the daemon retries with
 *   backoff (./plan-retry.ts: 0.5 s doubling to 30 s) and READY=1 waits. Later failures also
 *   retry with backoff (verify ticks pause meanwhile), show in `status` as "plan failed: …" and
 *   count in `wanbraid_plan_failures_total`.
 * - Every change of a link's view (health: probes, carrier, addresses, overrides, schedules) is
 *   published as a `link` event, handed to the relay (which link paths may connect, from which
 *   source address), and applied to the kernel (coalesced: the newest view wins).
 * - `reload` (SIGHUP) reads the file again; an invalid file (or an unreadable relay key, or a
 *   tool or kernel feature the new file needs and preflight finds missing) is refused and logged,
 *   and the running configuration stays in force. Reloads are serialised.
 * - `stop` (SIGTERM/SIGINT) undoes everything the daemon created, in reverse order.
 * Bad input on the control socket never reaches beyond an error reply.
 */
import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger, effectiveLevel, type Logger } from '../log.js';
import { WanbraidError, errorMessage, ConfigError } from '../errors.js';
import { StatusServer } from '../status/server.js';
import type { Request } from '../status/protocol.js';
import type { LinkStatus, StatusObject } from '../status/types.js';
import { MetricsServer } from '../status/metrics-server.js';
import { WebServer } from '../web/server.js';
import { loadTokenFile } from '../web/token.js';
import { formatEndpoint } from '../config/values.js';
import type { LinkInput } from '../web/history.js';
import { describeReason, isUsable, type LinkView } from '../model.js';
import { version } from '../version.js';
import { HealthManager } from '../health/manager.js';
import { RtnlKernelSource, RtnlTrafficSource } from '../health/rtnl-source.js';
import { createProber } from '../health/probers/index.js';
import { statusFields, type LinkHealth } from '../health/status.js';
import { snapshotViews } from '../health/snapshot-views.js';
import { RTPROT_WANBRAID } from '../kernel/rtnl/index.js';
import { Balancer, type ApplyReport } from '../kernel/balancer.js';
import { balancerMetricFamilies, type BalancerStatus, type LinkBalance } from '../kernel/balancer-status.js';
import { startRelay, type LinkAddresses, type RelayHandle } from '../relay/relay.js';
import { DialSupervisor } from '../dial/supervisor.js';
import { dialMetricFamilies } from '../dial/status.js';
import { DEFAULT_SECONDS, type SpeedTestResult } from '../relay/speedtest-plan.js';
import { speedTestMetricFamilies } from '../relay/speedtest-metrics.js';
import { nullNotifier, type Notifier } from './notify.js';
import { PlanTracker, planMetricFamilies } from './plan-retry.js';
import { probeSystem } from './preflight-probe.js';
import { problems, type SystemReport } from './preflight.js';

export interface DaemonOptions {
  configPath: string;
  /** Logger to use instead of creating one from the config (tests). */
  logger?: Logger;
  notifier?: Notifier;
  env?: NodeJS.ProcessEnv;
}

/** The relay's view of this host's links, from health's views. */
export function relayLinks(views: readonly LinkView[]): Map<string, LinkAddresses> {
  return new Map(views.map((v) => [v.name, { usable: isUsable(v), ipv4: v.observation.ipv4?.address, ipv6: v.observation.ipv6?.address }]));
}

export class Daemon extends EventEmitter {
  private config: Config;
  private configLoadedAt = new Date();
  private readonly startedAt = new Date();
  private readonly logger: Logger;
  private readonly notifier: Notifier;
  private server: StatusServer | undefined;
  private health: HealthManager | undefined;
  private balancer: Balancer | undefined;
  private relay: RelayHandle | undefined;
  private dials: DialSupervisor | undefined;
  private metrics: MetricsServer | undefined;
  private web: WebServer | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private applying: Promise<ApplyReport | undefined> = Promise.resolve(undefined);
  private started = false;
  private stopped = false;
  private watchdog: NodeJS.Timeout | undefined;
  private verifier: NodeJS.Timeout | undefined;
  private verifyEvery = 0;
  /** Outcomes of the applies: READY=1, retries with backoff, `status`'s plan line. */
  private readonly planState = new PlanTracker(Date.now());
  private retryTimer: NodeJS.Timeout | undefined;
  private readySent = false;
  /** The last `wanbraid speedtest` result (status, metrics), and whether one runs now (one at a time). */
  private lastSpeedTest: SpeedTestResult | undefined;
  private speedTestRunning = false;

  private constructor(
    private readonly opts: DaemonOptions,
    config: Config,
  ) {
    super();
    this.config = config;
    this.logger = opts.logger ?? createLogger(effectiveLevel(config.log.level, opts.env));
    this.notifier = opts.notifier ?? nullNotifier;
  }

  /** Read and validate the configuration; throws ConfigError before anything is touched. */
  static load(opts: DaemonOptions): Daemon {
    return new Daemon(opts, loadConfigFile(opts.configPath));
  }

  get log(): Logger {
    return this.logger;
  }

  /** Probe this host for the tools and kernel features the configuration needs. Changes nothing. */
  preflight(): Promise<SystemReport> {
    return probeSystem(this.config, { env: this.opts.env ?? process.env });
  }

  async start(): Promise<void> {
    try {
      await this.doStart();
    } catch (err) {
      // A stop during start (SIGTERM while coming up) makes the remaining steps fail on purpose.
      if (this.stopped) return;
      throw err;
    }
  }

  private async doStart(): Promise<void> {
    const cfg = this.config;
    this.logger.info({ config: this.opts.configPath, links: cfg.links.length, version: version() }, 'starting');
    this.server = new StatusServer({ path: cfg.status.socket, group: cfg.status.group, controlGroup: cfg.status.controlGroup, logger: this.logger, handler: (r) => this.handle(r) });
    await this.server.start();
    // The dashboard next, before anything on the system changes: it records every event from here.
    if (cfg.web) await this.startWeb(cfg.web);
    // The event loop is alive from here on: systemd's watchdog may count from the start.
    this.startWatchdog();
    if (cfg.relay || cfg.forwards.length > 0) this.relay = await startRelay(cfg, { logger: this.logger, links: new Map() });
    if (this.stopped) return;
    if (cfg.dials.length > 0) await this.startDials(cfg);
    if (this.stopped) return;
    if (cfg.links.length > 0) await this.startBalancing(cfg);
    if (this.stopped) return;
    if (cfg.metrics) await this.startMetrics(cfg.metrics.listen);
    this.started = true;
    if (this.balancer) await this.applying;
    this.armVerify();
    if (this.stopped) return;
    if (!this.maybeReady()) {
      const p = this.planState.status();
      this.logger.warn(
        { failures: p.failures, nextRetryAt: p.nextRetryAt },
        'started, but the plan is not in the kernel: READY=1 waits for an apply without failures (retrying with backoff)',
      );
    }
  }

  /** READY=1 once: after start, when the last apply had no failures (or there is nothing to apply). */
  private maybeReady(): boolean {
    if (this.readySent) return true;
    if (!this.started || this.stopped) return false;
    if (this.balancer && this.planState.status().state !== 'ok') return false;
    this.readySent = true;
    this.notifier.ready(this.readyText(this.balancer ? true : undefined));
    this.logger.info({ socket: this.config.status.socket }, 'ready');
    return true;
  }

  /**
   * The dial supervisor (src/dial/): creates the sessions' macvlans, runs their clients and
   * redials them. A session's change (a lease, its loss) makes health look at the links again,
   * with the lease's router as the session link's next hop, which re-plans through the usual path.
   */
  private async startDials(cfg: Config): Promise<void> {
    const dials = new DialSupervisor({
      dials: cfg.dials,
      runDir: join(dirname(cfg.status.socket), 'dial'),
      logger: this.logger,
      onChange: (link, s) => {
        if (this.stopped) return;
        this.health?.refresh();
        this.publish('dial', {
          link,
          state: s.state,
          attempts: s.attempts,
          address: s.lease ? `${s.lease.address}/${s.lease.prefixLen}` : null,
          error: s.lastError ?? null,
        });
      },
    });
    this.dials = dials;
    await dials.start();
  }

  private async startBalancing(cfg: Config): Promise<void> {
    // State that must survive a crash (the sysctls found before start) lives beside the socket,
    // in systemd's RuntimeDirectory.
    this.balancer = Balancer.open({ logger: this.logger, stateDir: dirname(cfg.status.socket) });
    // Tables and `from <address>` rules first, so that the first probe round already leaves
    // through its own link.
    const kernel = new RtnlKernelSource();
    const snap = await snapshotViews(cfg, kernel, (l) => ({ state: l.initialState, weight: l.weight }), { ownProtocol: RTPROT_WANBRAID });
    await kernel.close();
    if (snap.error) this.logger.warn({ err: snap.error }, 'cannot read the interfaces before probing; link tables follow once health sees them');
    else this.reportApply('start', await this.balancer.apply(cfg, snap.views));
    if (this.stopped) return;
    const health = new HealthManager({
      logger: this.logger,
      config: cfg,
      kernel: new RtnlKernelSource(),
      createProber,
      ownRouteProtocol: RTPROT_WANBRAID,
      leaseGateway: (link) => this.dials?.gateway(link),
      traffic: new RtnlTrafficSource(),
    });
    this.health = health;
    health.on('change', (view, prev) => {
      // Runs inside health's timers and rtnetlink callbacks: a failure here must not escape.
      try {
        this.onLinkChange(view, prev);
      } catch (err) {
        this.logger.error({ op: 'link-change', link: view.name, err: errorMessage(err) }, 'handling a link change failed');
      }
    });
    health.on('removed', (prev) => this.publish('link', { link: prev.name, state: 'removed', prev: prev.state }));
    // The passive signal's suspicions and their outcomes (bounded by its backoff).
    health.on('passive', (n) => {
      try {
        this.publish('passive', { ...n, at: new Date(n.at).toISOString() });
      } catch (err) {
        this.logger.error({ op: 'passive-event', link: n.link, err: errorMessage(err) }, 'publishing a passive-signal event failed');
      }
    });
    await health.start();
    void this.scheduleApply('health');
  }

  private async startMetrics(listen: { host: string; port: number }): Promise<void> {
    const m = new MetricsServer({ host: listen.host, port: listen.port, logger: this.logger });
    if (this.health) {
      const h = this.health;
      m.addCollector(() => h.metrics());
    }
    if (this.dials) {
      const d = this.dials;
      m.addCollector(() => dialMetricFamilies(d.status()));
    }
    if (this.balancer) {
      const b = this.balancer;
      m.addCollector(async () => balancerMetricFamilies(await b.status()));
      m.addCollector(() => planMetricFamilies(this.planState.status()));
    }
    m.addCollector(() => speedTestMetricFamilies(this.lastSpeedTest));
    await m.start();
    this.metrics = m;
  }

  private async startWeb(web: NonNullable<Config['web']>): Promise<void> {
    const token = web.tokenFile !== undefined ? loadTokenFile(web.tokenFile) : undefined;
    const w = new WebServer({ host: web.listen.host, port: web.listen.port, token, logger: this.logger, source: { status: () => this.status(), links: () => this.webLinks() } });
    await w.start();
    this.web = w;
  }

  /** Every configured link as the dashboard samples it each second (health's in-memory figures). */
  private webLinks(): LinkInput[] {
    const health = this.health?.status().links ?? [];
    return this.config.links.map((l) => {
      const h = health.find((x) => x.name === l.name);
      return h
        ? { name: l.name, interface: h.interface, state: h.state, reason: h.reasonText, weight: h.weight, rttMs: h.rttMs, lossPct: h.lossPct, jitterMs: h.jitterMs }
        : { name: l.name, interface: l.interface, state: 'probing', reason: 'starting', weight: l.weight, rttMs: undefined, lossPct: undefined, jitterMs: undefined };
    });
  }

  /** systemd's STATUS= line: links, whether the plan is applied (undefined: no balancing), relay. */
  private readyText(planOk: boolean | undefined): string {
    const c = this.config;
    const parts = [`${c.links.length} links`];
    if (this.dials) {
      const d = this.dials.status();
      parts.push(`${d.reduce((n, x) => n + x.up, 0)}/${d.reduce((n, x) => n + x.total, 0)} dial sessions up`);
    }
    if (planOk !== undefined) parts.push(planOk ? 'plan applied' : 'plan failed, retrying');
    if (this.relay) parts.push('relay up');
    return parts.join(', ');
  }

  private onLinkChange(view: LinkView, prev: LinkView | undefined): void {
    if (this.stopped) return;
    if (!prev || prev.state !== view.state) {
      this.publish('link', {
        link: view.name,
        interface: view.interface,
        state: view.state,
        prev: prev?.state ?? null,
        reason: describeReason(view.reason),
        reasonKind: view.reason.kind,
        since: new Date(view.since).toISOString(),
        weight: view.weight,
      });
    }
    if (this.health) this.relay?.setLinks(relayLinks(this.health.views()));
    this.dials?.observe(view.name, view.observation);
    void this.scheduleApply(`link ${view.name}`);
  }

  /**
   * Apply the plan for the current config and views. The balancer runs one apply at a time and
   * skips superseded ones, so a burst of changes costs at most two applies.
   */
  private scheduleApply(why: string): Promise<ApplyReport | undefined> {
    const b = this.balancer;
    const h = this.health;
    if (!b || !h || this.stopped) return Promise.resolve(undefined);
    const p = b.apply(this.config, h.views()).then(
      (report) => {
        if (!report.superseded) this.reportApply(why, report);
        return report;
      },
      (err: unknown) => {
        if (this.stopped) return undefined;
        const retryInMs = this.recordPlan(false, [errorMessage(err)]);
        this.logger.error({ op: 'apply', why, err: errorMessage(err), retryInMs }, 'applying the plan failed');
        this.publish('error', { source: 'balancer', message: errorMessage(err) });
        return undefined;
      },
    );
    this.applying = p;
    return p;
  }

  private reportApply(why: string, r: ApplyReport): void {
    const changes = r.routing.results.length + (r.nft.op === 'none' ? 0 : 1) + r.conntrack.length + r.sysctl.changed.length;
    const body = {
      ok: r.ok,
      why,
      durationMs: Math.round(r.durationMs * 10) / 10,
      nft: r.nft.op,
      routingChanges: r.routing.results.length,
      conntrackFlushed: r.conntrack.map((c) => c.link),
      nudged: r.conntrack.reduce((n, c) => n + (c.nudged ?? 0), 0),
      failures: r.failures,
      timings: Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, Math.round(v * 10) / 10])),
    };
    const retryInMs = this.recordPlan(r.ok, r.failures);
    if (!r.ok) {
      this.logger.error({ op: 'apply', ...body, retryInMs }, 'plan applied with failures');
      this.publish('error', { source: 'balancer', message: r.failures.join('; ') });
    } else if (changes > 0) this.logger.info({ op: 'apply', ...body }, 'plan applied');
    else this.logger.debug({ op: 'apply', ...body }, 'plan unchanged');
    if (changes > 0 || !r.ok) this.publish('plan', body);
  }

  /**
   * One finished apply: a failure arms the retry (backoff by the failures in a row), a success
   * cancels it and may send READY=1. Returns the retry delay (milliseconds) when one was armed.
   */
  private recordPlan(ok: boolean, failures: readonly string[]): number | undefined {
    if (this.stopped) return undefined;
    const d = this.planState.record({ ok, failures }, Date.now());
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (d.retryInMs !== undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.scheduleApply('retry');
      }, d.retryInMs);
      this.retryTimer.unref();
    }
    if (d.recovered) this.logger.info({ op: 'apply', failuresTotal: this.planState.failuresTotal }, 'plan applied again after failures');
    if (ok) this.maybeReady();
    return d.retryInMs;
  }

  /**
   * Every `routing.verifyInterval`, check the kernel against the plan and repair drift (someone
   * deleted a rule or route, a firewall reload flushed the nft ruleset). Skipped while an apply
   * is queued or running: that one re-reads the kernel anyway.
   */
  private armVerify(): void {
    const every = this.balancer ? this.config.routing.verifyInterval : 0;
    if (every === this.verifyEvery) return;
    if (this.verifier) clearInterval(this.verifier);
    this.verifier = undefined;
    this.verifyEvery = every;
    if (every <= 0 || this.stopped) return;
    let busy = false;
    this.verifier = setInterval(() => {
      const b = this.balancer;
      // While the plan is failing, the retry timer (with backoff) is what applies it again.
      if (!b || busy || this.stopped || this.planState.failing) return;
      busy = true;
      b.verify()
        .then((r) => {
          if (r.superseded) return;
          const repaired = r.routing.results.length + (r.nft.op === 'replace-table' ? 1 : 0);
          if (repaired > 0) this.logger.warn({ op: 'verify', routingChanges: r.routing.results.length, nft: r.nft.op }, 'kernel state had drifted from the plan: repaired');
          this.reportApply('verify', r);
        })
        .catch((err: unknown) => {
          if (!this.stopped) this.logger.error({ op: 'verify', err: errorMessage(err) }, 'checking the kernel against the plan failed');
        })
        .finally(() => (busy = false));
    }, every);
    this.verifier.unref();
  }

  /** Re-read the configuration file; keeps the running one when the new one is invalid. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.doReload());
    return this.reloading;
  }

  private refuseReload(issues: string[]): void {
    this.logger.error({ config: this.opts.configPath, issues }, 'reload refused: the new configuration is invalid or this host lacks what it needs; the running one stays in force');
    this.publish('reload', { ok: false, issues });
    if (this.readySent) this.notifier.ready('reload refused');
  }

  private async doReload(): Promise<void> {
    if (this.stopped || !this.started) return;
    // Before READY=1 systemd has no reload to track: RELOADING=1/READY=1 would claim readiness.
    const tellSystemd = this.readySent;
    if (tellSystemd) this.notifier.reloading();
    let next: Config;
    try {
      next = loadConfigFile(this.opts.configPath);
    } catch (err) {
      this.refuseReload(err instanceof ConfigError ? err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)) : [errorMessage(err)]);
      return;
    }
    if (JSON.stringify(next.status) !== JSON.stringify(this.config.status)) {
      // The socket, its group and the control group are the listening socket's: kept until a restart.
      this.logger.warn({ socket: next.status.socket, group: next.status.group, controlGroup: next.status.controlGroup }, 'status (socket, group, controlGroup) changed: takes effect on restart');
      next = { ...next, status: this.config.status };
    }
    if (JSON.stringify(next.metrics) !== JSON.stringify(this.config.metrics)) {
      this.logger.warn({ metrics: next.metrics?.listen }, 'metrics.listen changed: takes effect on restart');
      next = { ...next, metrics: this.config.metrics };
    }
    if (JSON.stringify(next.web) !== JSON.stringify(this.config.web)) {
      this.logger.warn({ web: next.web?.listen }, 'web (listen, tokenFile) changed: takes effect on restart');
      next = { ...next, web: this.config.web };
    }
    if (JSON.stringify(next.dials) !== JSON.stringify(this.config.dials)) {
      this.refuseReload(['dials: changing dials needs a restart (every session of a changed dial would be dialled again)']);
      return;
    }
    if ((next.links.length > 0) !== (this.config.links.length > 0)) {
      this.refuseReload([next.links.length > 0 ? 'links: adding the first links needs a restart' : 'links: removing every link needs a restart']);
      return;
    }
    // What the new configuration needs must be here, as at start: nothing half-reloaded.
    const missing = problems(await probeSystem(next, { env: this.opts.env ?? process.env }));
    if (missing.length > 0) {
      this.refuseReload(missing);
      return;
    }
    const relayWanted = next.relay !== undefined || next.forwards.length > 0;
    const warnings: string[] = [];
    try {
      if (this.relay) await this.relay.reload(next);
      else if (relayWanted) this.relay = await startRelay(next, { logger: this.logger, links: this.health ? relayLinks(this.health.views()) : new Map() });
    } catch (err) {
      if (err instanceof ConfigError) {
        this.refuseReload(err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)));
        return;
      }
      // Listening failures: the rest of the new configuration is in force; say what is not.
      warnings.push(errorMessage(err));
      this.logger.error({ op: 'reload', err: errorMessage(err) }, 'relay: part of the new configuration could not start');
    }
    this.config = next;
    this.configLoadedAt = new Date();
    this.health?.reload(next);
    const report = await this.scheduleApply('reload');
    this.armVerify();
    this.logger.info({ config: this.opts.configPath, links: next.links.length, planOk: report?.ok }, 'reloaded');
    this.publish('reload', { ok: true, ...(warnings.length > 0 ? { warnings } : {}) });
    if (tellSystemd) this.notifier.ready(this.readyText(report ? report.ok : this.balancer ? !this.planState.failing : undefined));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.notifier.stopping();
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.verifier) clearInterval(this.verifier);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.logger.info('stopping');
    await this.reloading.catch(() => undefined);
    const step = async (what: string, f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (err) {
        this.logger.error({ op: 'stop', step: what, err: errorMessage(err) }, `stop: ${what} failed`);
      }
    };
    await step('web', async () => this.web?.stop());
    await step('metrics', async () => this.metrics?.stop());
    await step('relay', async () => this.relay?.stop());
    await step('health', async () => {
      await this.health?.stop();
      await this.health?.hooksIdle();
    });
    await step('balancer', async () => {
      const r = await this.balancer?.stop();
      if (r && !r.ok) throw new WanbraidError('WB_KERNEL', r.failures.join('; '));
    });
    // After the balancer: its routes on the sessions' macvlans go with it first.
    await step('dials', async () => this.dials?.stop());
    await step('socket', async () => this.server?.stop());
    this.logger.info('stopped');
  }

  async status(): Promise<StatusObject> {
    const health = this.health?.status();
    const balancer = this.balancer ? await this.balancer.status().catch(() => undefined) : undefined;
    const st: StatusObject = {
      version: version(),
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      config: { file: this.opts.configPath, loadedAt: this.configLoadedAt.toISOString() },
      links: this.config.links.map((l) =>
        linkStatus(
          l.name,
          l.interface,
          l.weight,
          health?.links.find((h) => h.name === l.name),
          balancer?.links.find((b) => b.name === l.name),
        ),
      ),
    };
    if (balancer) st.balancer = { lastApply: balancer.lastApply, warnings: balancer.warnings };
    if (this.balancer) st.plan = this.planState.status();
    if (this.relay) st.relay = this.relay.status();
    const wa = this.web?.address();
    if (this.web && wa) st.web = { listen: formatEndpoint({ host: wa.address, port: wa.port }), streams: this.web.streams };
    if (this.dials) st.dials = this.dials.status();
    if (this.lastSpeedTest) st.speedtest = this.lastSpeedTest;
    if (this.metrics) st.metrics = { listen: `${this.metrics.address()?.address}:${this.metrics.address()?.port}` };
    return st;
  }

  private publish(event: string, body: Record<string, unknown>): void {
    this.server?.publish(event, body);
    this.web?.publish(event, body);
    this.emit('event', event, body);
  }

  private async handle(req: Request): Promise<Record<string, unknown>> {
    switch (req.cmd) {
      case 'status':
        return { status: await this.status() };
      case 'ping':
        return { pong: true };
      case 'reload':
        await this.reload();
        return { reloaded: true };
      case 'link': {
        if (!this.health) throw new WanbraidError('WB_REQUEST_INVALID', 'no links are configured');
        const v = this.health.override(req.link, req.action);
        return { link: v.name, state: v.state, reason: describeReason(v.reason) };
      }
      case 'set': {
        if (!this.balancer) throw new WanbraidError('WB_REQUEST_INVALID', 'no links are configured, so there are no sets');
        const r = req.op === 'list' ? this.balancer.listSet(req.set) : await this.balancer.setElements(req.set, req.op, req.elements);
        if (req.op !== 'list') {
          this.logger.info({ op: 'set', set: req.set, action: req.op, elements: req.elements, size: r.elements.length }, `set ${req.set}: ${req.op}`);
          this.publish('set', { set: req.set, op: req.op, elements: req.elements, size: r.elements.length });
        }
        return r;
      }
      case 'speedtest':
        return { result: await this.speedTest(req.entry, req.seconds ?? DEFAULT_SECONDS) };
      case 'subscribe':
        // The server answers subscribe itself; reaching here is a bug.
        throw new WanbraidError('WB_INTERNAL', 'subscribe is handled by the status server');
    }
  }

  /** One speed test at a time; its progress goes to subscribers as `speedtest` events. */
  private async speedTest(entry: string | undefined, seconds: number): Promise<SpeedTestResult> {
    if (!this.relay) throw new WanbraidError('WB_REQUEST_INVALID', 'speedtest: this daemon runs no relay entry (relay.entries)');
    if (this.speedTestRunning) throw new WanbraidError('WB_BUSY', 'speedtest: a speed test is already running; wait for it to finish');
    this.speedTestRunning = true;
    try {
      const r = await this.relay.speedTest(entry, seconds, (p) => this.publish('speedtest', { ...p }));
      this.lastSpeedTest = r;
      this.publish('speedtest', { result: r });
      return r;
    } finally {
      this.speedTestRunning = false;
    }
  }

  private startWatchdog(): void {
    const usec = Number(this.opts.env?.WATCHDOG_USEC ?? process.env.WATCHDOG_USEC);
    const pid = this.opts.env?.WATCHDOG_PID ?? process.env.WATCHDOG_PID;
    if (!Number.isFinite(usec) || usec <= 0 || (pid !== undefined && Number(pid) !== process.pid)) return;
    const every = Math.max(100, Math.floor(usec / 1000 / 2));
    this.watchdog = setInterval(() => this.notifier.watchdog(), every);
    this.watchdog.unref();
  }
}

/** One link's entry of the status object: base fields, then health's figures, then balancing's. */
function linkStatus(name: string, iface: string, configuredWeight: number, h: LinkHealth | undefined, b: LinkBalance | undefined): LinkStatus {
  const base: LinkStatus = h
    ? {
        name,
        interface: h.interface,
        state: h.state,
        since: new Date(h.since).toISOString(),
        reason: h.reasonText,
        reasonKind: h.reason.kind,
        weight: h.weight,
        configuredWeight,
      }
    : { name, interface: iface, state: 'probing', since: new Date().toISOString(), reason: 'starting', reasonKind: 'initial', weight: configuredWeight, configuredWeight };
  const out: LinkStatus = h ? { ...base, ...statusFields(h) } : base;
  if (b) {
    out.balance = {
      inUse: b.inUse,
      newFlows: b.newFlows,
      newFlowShare: b.newFlowShare,
      packets: b.packets,
      bytes: b.bytes,
      byteShare: b.byteShare,
      idleMs: b.idleMs,
      ...(b.warning ? { warning: b.warning } : {}),
    };
  }
  return out;
}

export type { BalancerStatus };
