/**
 * The Balancer: the daemon's one entry point to per-flow balancing in the kernel. It plans
 * (plan/planner.ts), then makes the kernel match with the smallest change:
 *
 * - routing objects (nexthops, routes, rules) through the {@link RoutingBackend}'s reconciler;
 * - `table inet wanbraid`: replaced in one transaction when its structure changed (or on the
 *   first apply of a run: adopting a crashed run's table means replacing it), otherwise only the
 *   elements of the pick maps and sets that changed, again in one transaction;
 * - conntrack: the entries of a link that stopped being usable are flushed by its mark (never
 *   the whole table), after the maps stopped picking it; on the first apply, those of every link
 *   that is not usable (a crash may have left some). With `routing.resetDeadFlows`, the flushed
 *   LAN TCP connections are read first and each client gets a nudge (kernel/tcp-nudge.ts) so it
 *   draws its reset now rather than at its next retransmission;
 * - sysctls the balancing needs, originals restored on stop (kept in `stateDir` across a crash).
 *
 * Concurrency: `apply` is latest-wins — while one runs, only the newest waiting (config, views)
 * is kept, older callers resolve as superseded, and the running one stops between steps. Runtime
 * set changes (`setElements`) and `refresh` go through the same queue. `stop` waits for it, then
 * removes everything owned and restores the sysctls.
 *
 * Units: milliseconds for durations; counters are packets and bytes.
 */
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { parsePrefix, type Prefix } from '../config/values.js';
import { WanbraidError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { LinkView } from '../model.js';
import { prefixKey } from '../plan/addr.js';
import { plan } from '../plan/planner.js';
import { FAMILIES } from '../plan/links.js';
import { nftNames } from '../plan/ruleset.js';
import type { DesiredState, LinkPlan } from '../plan/types.js';
import { NO_ROUTING, type LanScope, type RoutingBackend } from './backend.js';
import { RtnlBackend } from './rtnl-backend.js';
import { RtnlClient, type RtnlTransport } from './rtnl/index.js';
import { IdleTracker, buildStatus, type BalancerStatus } from './balancer-status.js';
import { Conntrack, type ConntrackFlusher } from './conntrack.js';
import { LatestRunner } from './latest.js';
import { Nft, type CounterValue } from './nft/nft.js';
import { NftSession } from './nft/session.js';
import type { NftCommand, NftObject } from './nft/json.js';
import { deleteTableBatch, dynamicElements, mapElementsCommands, replaceTableBatch, setElementsCommands, structureKey } from './nft/table.js';
import { shapeDifference, tableShape } from './nft/shape.js';
import type { ReconcileReport } from './reconcile-run.js';
import { SysctlGuard } from './sysctl.js';
import { flowsToNudge, type CtFlow } from './tcp-nudge.js';
import { Nudger, type NudgeCounters, type RawIpSender } from './nudger.js';
import { nativeAddon } from '../native/addon.js';
import { SharedRead } from '../util/shared-read.js';

export interface BalancerOptions {
  logger: Logger;
  routing: RoutingBackend;
  nft?: Nft;
  conntrack?: ConntrackFlusher;
  sysctl?: SysctlGuard;
  /** Where state that must survive a crash lives (default /run/wanbraid). */
  stateDir?: string;
  /** Clock (epoch milliseconds), for tests. */
  now?: () => number;
  /** How often the nft counters are sampled for the idle-link warning (default: a quarter of routing.idleLinkWarning, 1-15 s; 0 disables). */
  sampleIntervalMs?: number;
  /** Failover nudges (default: the native addon, loaded on first use). */
  sendRaw?: RawIpSender;
  /** When nudged flows are checked and nudged again (default kernel/tcp-nudge.ts NUDGE_SCHEDULE; tests shorten it). */
  nudgeSchedule?: readonly number[];
  /** How long one reading of the nft counters serves status and metrics (default 1000 ms; see util/shared-read.ts). */
  countersTtlMs?: number;
}

export interface NftApplyResult {
  op: 'replace-table' | 'elements' | 'none';
  ok: boolean;
  /** Maps and sets whose elements changed. */
  changed: string[];
  detail?: string;
}

export interface ConntrackResult {
  link: string;
  mark: number;
  ok: boolean;
  /** LAN TCP clients nudged after the flush (routing.resetDeadFlows). */
  nudged?: number;
  detail?: string;
}

export type { RawIpSender } from './nudger.js';

export interface ApplyReport {
  /** A newer apply replaced this one before it ran (nothing below was done for it). */
  superseded: boolean;
  ok: boolean;
  /** Wall time from the call to the kernel matching (milliseconds). */
  durationMs: number;
  nft: NftApplyResult;
  routing: ReconcileReport;
  conntrack: ConntrackResult[];
  sysctl: { changed: string[]; ok: boolean; detail?: string };
  /** One line per failure, for logs and status. */
  failures: string[];
  /** Where the time went (milliseconds): planning, sysctls, routing and nft (side by side), conntrack. */
  timings: { planMs: number; sysctlMs: number; routingMs: number; nftMs: number; conntrackMs: number };
}

export interface StopReport {
  ok: boolean;
  failures: string[];
}

/** A runtime-changeable set: `bypass`, or a name from `sets:`. */
export type SetOp = 'add' | 'delete' | 'flush';

interface Inputs {
  config: Config;
  views: readonly LinkView[];
  /** When the caller asked (performance.now()). */
  t0: number;
}

const EMPTY_ROUTING: ReconcileReport = { results: [], unchanged: 0, superseded: false, skipped: 0 };

export class Balancer {
  private readonly log: Logger;
  private readonly routing: RoutingBackend;
  private readonly nft: Nft;
  private readonly conntrack: ConntrackFlusher;
  private readonly sysctl: SysctlGuard;
  private readonly now: () => number;
  private readonly runner: LatestRunner<Inputs, ApplyReport>;
  private readonly idle = new IdleTracker();
  private readonly sampleIntervalMs: number | undefined;
  private readonly nudger: Nudger;
  /** One `nft list counters` shared by concurrent status requests and scrapes, kept ~1 s. */
  private readonly counterRead: SharedRead<Map<string, CounterValue>>;

  private last: Inputs | undefined;
  /** The newest (config, views) handed to apply, run or still waiting. */
  private submitted: { config: Config; views: readonly LinkView[] } | undefined;
  private desired: DesiredState | undefined;
  private nftKey: string | undefined;
  /** The installed table's shape as listed right after wanbraid installed it (see nft/shape.ts). */
  private nftShape: string | undefined;
  private nftElements = new Map<string, { kind: 'set' | 'map'; json: string }>();
  /** Links usable after the last apply (name → mark). */
  private usable = new Map<string, number>();
  private pendingFlush = new Map<string, number>();
  private firstApply = true;
  private overlay = new Map<string, { base: string; contents: Prefix[] }>();
  private lastReport: ApplyReport | undefined;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: BalancerOptions) {
    this.log = opts.logger;
    this.routing = opts.routing;
    this.nft = opts.nft ?? new Nft();
    this.conntrack = opts.conntrack ?? new Conntrack();
    this.sysctl = opts.sysctl ?? new SysctlGuard({ stateFile: join(opts.stateDir ?? '/run/wanbraid', 'sysctl.json') });
    this.now = opts.now ?? Date.now;
    this.sampleIntervalMs = opts.sampleIntervalMs;
    const sendRaw: RawIpSender = opts.sendRaw ?? ((family, mark, packets) => nativeAddon().sendRawIp(family, mark, packets));
    const conntrack = this.conntrack;
    this.nudger = new Nudger({
      log: this.log,
      send: sendRaw,
      getFlow: (f) => (conntrack.getFlow ? conntrack.getFlow(f) : Promise.resolve(undefined)),
      ...(conntrack.watchDestroyed ? { watchDestroyed: (cb: (f: CtFlow) => void) => conntrack.watchDestroyed!(cb) } : {}),
      ...(opts.nudgeSchedule ? { schedule: opts.nudgeSchedule } : {}),
    });
    this.runner = new LatestRunner((inp, hasNewer) => this.run(inp, hasNewer));
    this.counterRead = new SharedRead(() => this.readCounters(), opts.countersTtlMs ?? 1000, this.now);
  }

  /** The nft counters of the installed table (empty while none is installed or the read fails). */
  private async readCounters(): Promise<Map<string, CounterValue>> {
    if (!this.nftKey || !this.desired) return new Map();
    return this.nft.counters('inet', this.desired.ownership.nftTable).catch(() => new Map<string, CounterValue>());
  }

  /** Underlying nft counter reads so far (tests: concurrent status calls share one). */
  get counterReads(): number {
    return this.counterRead.readCount;
  }

  /**
   * The daemon's constructor: routing through rtnetlink (a client opened here unless one is given;
   * it must belong to the daemon's network namespace), nft with a kept libnftables context for
   * element updates and listings (throws WB_NFT_LIBRARY / WB_NATIVE when it cannot be made), ctnetlink
   * and /proc/sys of this process.
   */
  static open(opts: {
    logger: Logger;
    rtnl?: RtnlTransport & { close?: () => void };
    stateDir?: string;
    countersTtlMs?: number;
    /** Benchmarks only: 'process' measures the old way (an nft process per change) as the reference. */
    nftTransport?: 'libnftables' | 'process';
  }): Balancer {
    const nft = opts.nftTransport === 'process' ? new Nft() : new Nft({ session: NftSession.open() });
    return new Balancer({
      logger: opts.logger,
      nft,
      routing: new RtnlBackend(opts.rtnl ?? RtnlClient.open()),
      ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
      ...(opts.countersTtlMs !== undefined ? { countersTtlMs: opts.countersTtlMs } : {}),
    });
  }

  /** Plan for (config, views) and make the kernel match. Latest wins. */
  async apply(config: Config, views: readonly LinkView[]): Promise<ApplyReport> {
    if (this.stopped) throw new WanbraidError('WB_INTERNAL', 'balancer: apply after stop');
    const t0 = performance.now();
    this.submitted = { config, views };
    const out = await this.runner.submit({ config, views, t0 });
    if (out.superseded) return { ...emptyReport(), superseded: true, durationMs: performance.now() - t0 };
    return out.result;
  }

  /** Apply the last (config, views) again: re-reads the kernel (e.g. after a link event deleted nexthops). */
  async refresh(): Promise<ApplyReport> {
    // The newest inputs asked for, not the last run's: a refresh must never replace a newer
    // apply that is still waiting in the queue with older views.
    const s = this.submitted;
    if (!s) throw new WanbraidError('WB_INTERNAL', 'balancer: refresh before the first apply');
    return this.apply(s.config, s.views);
  }

  /**
   * Check that the kernel still holds the last plan and repair what is missing or changed: the
   * routing objects are compared in full (reconcile); the nft table is compared by shape with
   * what was listed right after it was installed — chains, rules, sets, maps, counters and static
   * elements, but not counter values or the elements wanbraid updates itself. A missing table (a
   * firewall reload's `flush ruleset`) or a changed one (a flushed chain, a deleted rule) is
   * installed again whole. Same queue as apply.
   */
  async verify(): Promise<ApplyReport> {
    if (!this.submitted) throw new WanbraidError('WB_INTERNAL', 'balancer: verify before the first apply');
    if (this.nftKey !== undefined && this.desired) {
      const drift = await this.nftDrift(this.desired);
      if (drift !== undefined) {
        this.log.warn({ op: 'verify', table: this.desired.ownership.nftTable, drift }, 'nft table changed behind wanbraid: installing it again');
        this.nftKey = undefined;
      }
    }
    return this.refresh();
  }

  /** A listing's shape, leaving out the elements wanbraid rewrites itself (its dynamic sets and maps). */
  private shapeOf(objects: readonly NftObject[]): string {
    return tableShape(objects, new Set(this.nftElements.keys()));
  }

  /** Why the installed nft table no longer matches what was installed, or undefined when it does. */
  private async nftDrift(d: DesiredState): Promise<string | undefined> {
    let objects;
    try {
      objects = await this.nft.listTable('inet', d.ownership.nftTable);
    } catch (err) {
      return `cannot list the table: ${errorMessage(err)}`;
    }
    if (!objects) return 'the table is missing';
    const shape = this.shapeOf(objects);
    // Not read after the install (the listing failed then): this reading becomes the reference.
    if (this.nftShape === undefined) {
      this.nftShape = shape;
      return undefined;
    }
    return shapeDifference(this.nftShape, shape);
  }

  /** The desired state of the last apply (for `check --plan` style inspection and tests). */
  get plan(): DesiredState | undefined {
    return this.desired;
  }

  /**
   * Change a runtime set (`bypass` or a `sets:` name) for both families, in one nft transaction.
   * The change lasts until stop, or until a reload changes that set's elements in the config.
   */
  async setElements(set: string, op: SetOp, prefixes: readonly string[]): Promise<{ set: string; elements: string[] }> {
    const cfg = this.last?.config;
    if (!cfg) throw new WanbraidError('WB_REQUEST_INVALID', 'balancing is not running yet');
    checkSetName(cfg, set);
    const parsed = prefixes.map((p) => {
      const v = typeof p === 'string' ? parsePrefix(p) : undefined;
      if (!v) throw new WanbraidError('WB_REQUEST_INVALID', `set ${set}: "${String(p)}" is not an address or prefix like 198.18.0.0/15 or 2001:db8::/32`);
      return v;
    });
    if (op !== 'flush' && parsed.length === 0) throw new WanbraidError('WB_REQUEST_INVALID', `set ${set}: ${op} needs at least one prefix`);
    const current = this.setContents(cfg, set);
    const keys = new Set(current.map(prefixKey));
    let next: Prefix[];
    if (op === 'flush') next = [];
    else if (op === 'add') next = [...current, ...parsed.filter((p) => !keys.has(prefixKey(p)))];
    else {
      const drop = new Set(parsed.map(prefixKey));
      next = current.filter((p) => !drop.has(prefixKey(p)));
    }
    this.overlay.set(set, { base: baseOf(cfg, set), contents: next });
    const report = await this.refresh();
    if (!report.superseded && !report.nft.ok) throw new WanbraidError('WB_NFT', `set ${set}: ${report.nft.detail ?? 'nft refused the change'}`);
    return { set, elements: next.map(prefixKey) };
  }

  /** Per link: weight, share of new flows and bytes, idle-link warning. */
  async status(): Promise<BalancerStatus> {
    const links = this.desired?.links ?? [];
    const counters = await this.counterRead.get();
    const now = this.now();
    this.idle.observe(newFlowMap(links, counters), now);
    const idleMs = this.last?.config.routing.idleLinkWarning ?? 60_000;
    const st = buildStatus(links, new Set(this.usable.keys()), counters, this.idle, idleMs, now);
    const r = this.lastReport;
    return { ...st, nudges: this.nudger.counters(), lastApply: r ? { at: new Date(this.lastAt).toISOString(), ok: r.ok, durationMs: Math.round(r.durationMs), failures: r.failures } : undefined };
  }

  /** Remove everything created (nft table, routes, rules, nexthops) and restore the sysctls. */
  async stop(): Promise<StopReport> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.runner.idle();
    const failures: string[] = [];
    try {
      await this.nft.apply(deleteTableBatch('inet', this.desired?.ownership.nftTable ?? 'wanbraid'));
    } catch (err) {
      failures.push(`nft: ${errorMessage(err)}`);
    }
    try {
      const r = await this.routing.reconcile(NO_ROUTING);
      for (const x of r.results) if (!x.ok) failures.push(`${x.kind} ${x.op} ${x.object}: ${x.detail ?? 'failed'}`);
    } catch (err) {
      failures.push(`routing: ${errorMessage(err)}`);
    }
    for (const r of await this.sysctl.restore()) if (!r.ok) failures.push(`sysctl ${r.key}: ${r.detail ?? 'failed'}`);
    this.nudger.close();
    this.conntrack.close();
    this.routing.close();
    await this.nft.close().catch(() => undefined);
    this.nftKey = undefined;
    this.nftShape = undefined;
    this.log.info({ op: 'stop', ok: failures.length === 0, failures }, 'balancer stopped');
    return { ok: failures.length === 0, failures };
  }

  // ---------------------------------------------------------------------------------------------

  /** The elements of a runtime set now (`bypass` or a `sets:` name), as the kernel has them. */
  listSet(set: string): { set: string; elements: string[] } {
    const cfg = this.last?.config;
    if (!cfg) throw new WanbraidError('WB_REQUEST_INVALID', 'balancing is not running yet');
    checkSetName(cfg, set);
    return { set, elements: this.setContents(cfg, set).map(prefixKey) };
  }

  private nudgeFailed(link: string, err: unknown): CtFlow[] {
    this.log.warn({ op: 'nudge', link, err: errorMessage(err) }, 'cannot read the dead link\'s connections: they reset at their next retransmission');
    return [];
  }

  /**
   * Nudge the live outbound LAN TCP connections of a dead link (kernel/tcp-nudge.ts), followed
   * until their resets show (kernel/nudger.ts); returns how many nudges were sent now.
   */
  private nudge(link: string, flows: readonly CtFlow[], mark: number, dead: { mark: number; mask: number }, views: readonly LinkView[], scope: LanScope): number {
    if (flows.length === 0) return 0;
    const local = new Set<string>(scope.local);
    for (const v of views) for (const a of [v.observation.ipv4?.address, v.observation.ipv6?.address]) if (a) local.add(a);
    const todo = flowsToNudge(flows, { local, lan: scope.lan });
    const sent = this.nudger.nudge(link, todo, mark, dead);
    this.log.debug({ op: 'nudge', link, connections: todo.length, skipped: flows.length - todo.length, sent }, 'nudged the dead link\'s LAN clients');
    return sent;
  }

  /** The LAN's networks and the router's addresses (for which flows get nudges); none when unreadable. */
  private async lanScope(link: string, interfaces: readonly string[]): Promise<LanScope> {
    try {
      return this.routing.lanScope ? await this.routing.lanScope(interfaces) : { local: [], lan: [] };
    } catch (err) {
      this.log.warn({ op: 'nudge', link, err: errorMessage(err) }, 'cannot read the LAN\'s networks: the dead link\'s clients reset at their next retransmission');
      return { local: [], lan: [] };
    }
  }

  /** Failover nudges so far (sent, confirmed by a reset, retried, unconfirmed). */
  nudges(): NudgeCounters {
    return this.nudger.counters();
  }

  private setContents(cfg: Config, set: string): Prefix[] {
    const o = this.overlay.get(set);
    if (o && o.base === baseOf(cfg, set)) return o.contents;
    return set === 'bypass' ? [...cfg.bypass] : [...(Object.hasOwn(cfg.sets, set) ? cfg.sets[set]!.elements : [])];
  }

  private async run(inp: Inputs, hasNewer: () => boolean): Promise<ApplyReport> {
    const { config } = inp;
    this.last = inp;
    const failures: string[] = [];
    const sets = new Map<string, Prefix[]>();
    for (const name of Object.keys(config.sets)) sets.set(name, this.setContents(config, name));
    const tPlan = performance.now();
    const desired = plan(config, inp.views, { resilientGroups: this.routing.resilientGroups(), bypass: this.setContents(config, 'bypass'), sets });
    this.desired = desired;
    const tSysctl = performance.now();

    const sysctl: ApplyReport['sysctl'] = await this.sysctl.ensure(desired.sysctls).then(
      (changed) => ({ changed, ok: true }),
      (err: unknown) => ({ changed: [], ok: false, detail: errorMessage(err) }),
    );
    if (!sysctl.ok) failures.push(`sysctl: ${sysctl.detail}`);

    // Which links stop being picked (their conntrack entries are flushed once the maps changed).
    const usableNow = new Map<string, number>();
    for (const p of desired.policies) for (const c of p.choices) for (const m of c.members) usableNow.set(m.link, desired.links.find((l) => l.name === m.link)!.mark);
    const flushFor = new Map<string, number>(this.pendingFlush);
    if (this.firstApply) {
      for (const l of desired.links) if (!usableNow.has(l.name)) flushFor.set(l.name, l.mark);
    }
    for (const [name, mark] of this.usable) {
      const l = desired.links.find((x) => x.name === name);
      if (!usableNow.has(name) || !l || l.mark !== mark) flushFor.set(name, mark);
    }
    const mask = desired.ownership.markMask;
    const nudging = config.routing.flushConntrack && config.routing.resetDeadFlows && (config.lan?.interfaces.length ?? 0) > 0 && this.conntrack.dumpMark !== undefined;
    // Routing and nft touch different subsystems: run them side by side. nft first: its
    // transaction runs on the thread pool while this thread sends the routing changes.
    const tKernel = performance.now();
    let routingMs = 0;
    let nftMs = 0;
    const nftDone = this.applyNft(desired).finally(() => (nftMs = performance.now() - tKernel));
    const routingDone = this.routing
      .reconcile(desired, hasNewer)
      .catch((err: unknown): ReconcileReport => {
        failures.push(`routing: ${errorMessage(err)}`);
        return { ...EMPTY_ROUTING };
      })
      .finally(() => (routingMs = performance.now() - tKernel));
    // The dead links' connections (to nudge) and the LAN's networks are read beside the routing
    // and nft changes, not after them: a conntrack dump walks the kernel's whole hash table
    // (milliseconds on a large one, inside the send) and would otherwise lengthen every failover.
    // A connection opened on the dead link in the instant between this read and the map change is
    // still flushed, only not nudged: its next packet takes a live link.
    const early =
      nudging && flushFor.size > 0
        ? {
            flows: new Map([...flushFor].map(([link, mark]): [string, Promise<CtFlow[]>] => [link, this.conntrack.dumpMark!(mark, mask).catch((err: unknown) => this.nudgeFailed(link, err))])),
            scope: this.lanScope([...flushFor.keys()].join(','), config.lan!.interfaces),
          }
        : undefined;
    const [routing, nft] = await Promise.all([routingDone, nftDone]);
    const tConntrack = performance.now();
    for (const r of routing.results) if (!r.ok) failures.push(`${r.kind} ${r.op} ${r.object}: ${r.detail ?? 'failed'}`);
    if (!nft.ok) failures.push(`nft ${nft.op}: ${nft.detail ?? 'failed'}`);

    // Conntrack: after the maps stopped picking a link, flush what it carried.
    const now = this.now();
    for (const name of usableNow.keys()) if (!this.usable.has(name)) this.idle.reset(name, now);
    const conntrack: ConntrackResult[] = [];
    this.pendingFlush.clear();
    if (config.routing.flushConntrack && nft.ok) {
      const scope = early ? await early.scope : undefined;
      await Promise.all(
        [...flushFor].map(async ([link, mark]) => {
          try {
            const flows = early ? await early.flows.get(link)! : [];
            // Listen for destroyed entries from before the flush (see kernel/nudger.ts).
            const prepared = nudging ? this.nudger.prepare(link) : undefined;
            let nudged: number | undefined;
            try {
              await this.conntrack.flushMark(mark, mask);
              nudged = nudging && scope ? this.nudge(link, flows, desired.ownership.mainMark, { mark, mask }, inp.views, scope) : undefined;
            } finally {
              prepared?.();
            }
            conntrack.push({ link, mark, ok: true, ...(nudged !== undefined ? { nudged } : {}) });
          } catch (err) {
            this.pendingFlush.set(link, mark);
            conntrack.push({ link, mark, ok: false, detail: errorMessage(err) });
            failures.push(`conntrack flush ${link}: ${errorMessage(err)}`);
          }
        }),
      );
    } else if (config.routing.flushConntrack) {
      for (const [link, mark] of flushFor) this.pendingFlush.set(link, mark);
    }
    this.usable = usableNow;
    this.firstApply = false;
    this.startSampling(config);

    const tEnd = performance.now();
    const report: ApplyReport = {
      superseded: false,
      ok: failures.length === 0,
      durationMs: tEnd - inp.t0,
      timings: { planMs: tSysctl - tPlan, sysctlMs: tKernel - tSysctl, routingMs, nftMs, conntrackMs: tEnd - tConntrack },
      nft,
      routing,
      conntrack,
      sysctl,
      failures,
    };
    this.lastReport = report;
    this.lastAt = this.now();
    const level = failures.length > 0 ? 'warn' : 'info';
    this.log[level](
      {
        op: 'apply',
        ms: Math.round(report.durationMs * 10) / 10,
        timings: Object.fromEntries(Object.entries(report.timings).map(([k, v]) => [k, Math.round(v * 10) / 10])),
        nft: nft.op,
        changed: nft.changed,
        routing: { changed: routing.results.length, unchanged: routing.unchanged, superseded: routing.superseded },
        flushed: conntrack.map((c) => c.link),
        failures,
      },
      'balancer applied',
    );
    return report;
  }

  private async applyNft(d: DesiredState): Promise<NftApplyResult> {
    const key = structureKey(d.nft);
    const elems = dynamicElements(d.nft);
    if (key !== this.nftKey) {
      try {
        await this.nft.apply(replaceTableBatch(d.nft));
        this.nftKey = key;
        this.nftElements = elems;
        // A new table starts its counters at zero: a kept reading is stale.
        this.counterRead.invalidate();
        // The reference for drift checks, read now: a change made later is then told apart.
        this.nftShape = await this.nft.listTable('inet', d.ownership.nftTable).then(
          (objects) => (objects ? this.shapeOf(objects) : undefined),
          () => undefined,
        );
        return { op: 'replace-table', ok: true, changed: [...elems.keys()] };
      } catch (err) {
        this.nftKey = undefined;
        return { op: 'replace-table', ok: false, changed: [], detail: errorMessage(err) };
      }
    }
    const cmds: NftCommand[] = [];
    const changed: string[] = [];
    for (const s of d.nft.sets) {
      if (!s.dynamic || this.nftElements.get(s.name)?.json === elems.get(s.name)!.json) continue;
      changed.push(s.name);
      cmds.push(...setElementsCommands(d.nft.family, d.nft.name, s.name, s.elements));
    }
    for (const m of d.nft.maps) {
      if (!m.dynamic || this.nftElements.get(m.name)?.json === elems.get(m.name)!.json) continue;
      changed.push(m.name);
      cmds.push(...mapElementsCommands(d.nft.family, d.nft.name, m.name, m.elements));
    }
    if (cmds.length === 0) return { op: 'none', ok: true, changed };
    try {
      await this.nft.update({ nftables: cmds });
      this.nftElements = elems;
      return { op: 'elements', ok: true, changed };
    } catch (err) {
      // The table may have been removed or changed behind us: replace it next time.
      this.nftKey = undefined;
      return { op: 'elements', ok: false, changed, detail: errorMessage(err) };
    }
  }

  private startSampling(config: Config): void {
    if (this.timer || this.stopped) return;
    const every = this.sampleIntervalMs ?? Math.min(15_000, Math.max(1_000, Math.floor(config.routing.idleLinkWarning / 4)));
    if (every <= 0) return;
    this.timer = setInterval(() => {
      if (!this.desired || !this.nftKey) return;
      const links = this.desired.links;
      this.counterRead.get().then(
        (c) => this.idle.observe(newFlowMap(links, c), this.now()),
        () => undefined,
      );
    }, every);
    this.timer.unref();
  }
}

function newFlowMap(links: readonly LinkPlan[], counters: ReadonlyMap<string, { packets: number }>): Map<string, number> {
  return new Map(links.map((l) => [l.name, counters.get(nftNames.newCounter(l.name))?.packets ?? 0]));
}

/**
 * A runtime set name must be `bypass` or one of the config's own `sets:` keys. An own-property
 * check: `in` would let "toString" or "constructor" through (inherited from Object.prototype),
 * and the balancer would then report success while changing nothing.
 */
export function checkSetName(cfg: Pick<Config, 'sets'>, set: string): void {
  if (set === 'bypass' || Object.hasOwn(cfg.sets, set)) return;
  throw new WanbraidError('WB_REQUEST_INVALID', `unknown set "${set}" (known: bypass${Object.keys(cfg.sets).map((s) => `, ${s}`).join('')})`);
}

/** The config's own elements of a set, as a comparable string. */
function baseOf(cfg: Config, set: string): string {
  const list = set === 'bypass' ? cfg.bypass : (Object.hasOwn(cfg.sets, set) ? cfg.sets[set]!.elements : []);
  return JSON.stringify(FAMILIES.map((f) => list.filter((p) => p.family === f).map(prefixKey).sort()));
}

function emptyReport(): ApplyReport {
  return {
    superseded: false,
    ok: true,
    durationMs: 0,
    nft: { op: 'none', ok: true, changed: [] },
    routing: { ...EMPTY_ROUTING },
    conntrack: [],
    sysctl: { changed: [], ok: true },
    failures: [],
    timings: { planMs: 0, sysctlMs: 0, routingMs: 0, nftMs: 0, conntrackMs: 0 },
  };
}
