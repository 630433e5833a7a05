/**
 * A relay entry: accepts user TCP connections on `listen` and relays each one to its target
 * through the exit, striped over the entry's paths. The target is the configured fixed `target`,
 * or, for a transparent entry (no target), the original destination of each connection that
 * nftables redirected here, learned through {@link OriginalDstLookup}.
 *
 * One engine session (core/mux.ts) per entry, identified to the exit by a random session id made
 * at start; if the exit answers with a new incarnation (it restarted and lost our flows), every
 * open flow is reset. So is every flow once the entry has had no path at all for as long as the
 * exit keeps a session without paths ({@link sessionLingerMs}): the exit has dropped the session
 * by then (or refuses us: a revoked key), so those flows can never finish and their users must
 * not wait forever. Paths can be added and removed live (reload) without disturbing flows.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { RelayEntryConfig, RelayTuningConfig } from '../config/schema.js';
import { formatEndpoint } from '../config/values.js';
import { pathName } from '../config/validate.js';
import { WanbraidError, errorCode, errorMessage } from '../errors.js';
import type { Clock } from './core/clock.js';
import { Mux } from './core/mux.js';
import { Reason } from './protocol/constants.js';
import { ipToBytes } from './protocol/addr.js';
import type { Target } from './protocol/frames.js';
import { SocketFlow } from './net/flow-socket.js';
import type { ClientKey } from './net/handshake.js';
import { PathDialer, type PathSpecLike } from './path-dialer.js';
import type { LinkMap, OriginalDstLookup } from './links.js';
import type { RelayEntryStatus, RelayPathStatus } from './status.js';
import { muxCounters, pathStatus } from './status-collect.js';
import { runSpeedTest } from './speedtest.js';
import type { Progress, SpeedTestResult } from './speedtest-plan.js';

export interface EntryDeps {
  logger: Logger;
  clock: Clock;
  links: LinkMap;
  originalDst: OriginalDstLookup | undefined;
  random?: () => number;
}

/** Bytes of a flow's opening exchange: an OPEN unanswered this long resets the user connection (ms). */
const OPEN_TIMEOUT_MS = 20_000;

/**
 * How long a session without any path is kept (ms): by the exit, before it drops the session and
 * its flows; by the entry, before it resets its flows (the exit can no longer have them).
 */
export function sessionLingerMs(t: RelayTuningConfig): number {
  return Math.max(30_000, 6 * t.retryMax);
}

export function muxTuning(t: RelayTuningConfig) {
  return {
    chunkSize: t.chunkSize,
    pathQueue: t.pathQueue,
    reorderBuffer: t.reorderBuffer,
    pathTimeout: t.pathTimeout,
    sessionBuffer: t.sessionBuffer,
    openTimeout: OPEN_TIMEOUT_MS,
  };
}

export class RelayEntry {
  readonly mux: Mux;
  private server: net.Server | undefined;
  private readonly session = randomBytes(16);
  private incarnation: Buffer | undefined;
  private dialers: PathDialer[] = [];
  private links: LinkMap;
  private accepted = 0;
  private warnedNoLookup = false;
  private lastLookupLog = -Infinity;
  private suppressedLookups = 0;
  /** Engine clock time the last path went down (while there is none). */
  private noPathSince = 0;
  private cancelOrphan: (() => void) | undefined;
  private stopped = false;
  /** Aborts a running speed test when the entry stops. */
  private readonly stopping = new AbortController();
  private readonly log: Logger;

  constructor(
    readonly cfg: RelayEntryConfig,
    readonly tuning: RelayTuningConfig,
    private readonly key: ClientKey,
    private readonly deps: EntryDeps,
  ) {
    this.log = deps.logger.child({ entry: cfg.name });
    this.links = deps.links;
    this.mux = new Mux('entry', muxTuning(tuning), deps.clock, this.log, {
      onPathDown: (id, reason) => {
        this.dialers.find((d) => d.muxId === id)?.pathDown(reason);
        if (this.mux.pathCount > 0) return;
        this.noPathSince = this.deps.clock.now();
        this.watchOrphans(sessionLingerMs(this.tuning));
      },
    });
  }

  /** No path left: reset the flows if none has come back {@link sessionLingerMs} after the last went down. */
  private watchOrphans(ms: number): void {
    if (this.cancelOrphan || this.stopped) return;
    this.cancelOrphan = this.deps.clock.after(ms, () => {
      this.cancelOrphan = undefined;
      if (this.mux.pathCount > 0 || this.mux.flowCount === 0) return;
      const linger = sessionLingerMs(this.tuning);
      const idle = this.deps.clock.now() - this.noPathSince;
      if (idle < linger) return this.watchOrphans(linger - idle);
      this.log.warn({ flows: this.mux.flowCount, ms: Math.round(idle) }, 'relay entry: no path to the exit for as long as it keeps a session: resetting its flows');
      this.mux.resetAll(Reason.TIMEOUT, true);
    });
  }

  async start(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.onConnection(s));
    this.server = server;
    await listen(server, this.cfg.listen, `relay.entries ${this.cfg.name}`);
    this.log.info({ listen: formatEndpoint(this.cfg.listen), target: this.cfg.target ? formatEndpoint(this.cfg.target) : 'transparent', exit: formatEndpoint(this.cfg.exit) }, 'relay entry listening');
    if (!this.cfg.target && !this.deps.originalDst)
      this.log.error('transparent relay entry without an original-destination lookup (native addon missing): redirected connections will be reset');
    this.setPaths(this.cfg.paths);
  }

  /** Reconcile the path list (start, reload): keep unchanged paths, stop removed ones, start new ones. */
  setPaths(specs: readonly PathSpecLike[]): void {
    const wanted = specs.map((s, i) => ({ spec: s, name: pathName(s, i) }));
    const keep: PathDialer[] = [];
    for (const d of this.dialers) {
      const w = wanted.find((x) => x.name === d.name);
      if (w && sameSpec(w.spec, d.spec)) keep.push(d);
      else d.stop('path removed from the configuration');
    }
    const used = new Set(keep.map((d) => d.slot));
    const ctx = {
      entryName: this.cfg.name,
      exit: this.cfg.exit,
      key: this.key,
      session: this.session,
      window: this.tuning.reorderBuffer,
      retryMin: this.tuning.retryMin,
      retryMax: this.tuning.retryMax,
      handshakeTimeout: Math.max(2 * this.tuning.pathTimeout, 1000),
      mux: this.mux,
      clock: this.deps.clock,
      log: this.log,
      random: this.deps.random ?? Math.random,
      onWelcome: (inc: Buffer) => this.onWelcome(inc),
    };
    const next: PathDialer[] = [];
    for (const w of wanted) {
      const existing = keep.find((d) => d.name === w.name);
      if (existing) {
        next.push(existing);
        continue;
      }
      let slot = 0;
      while (used.has(slot)) slot++;
      used.add(slot);
      const d = new PathDialer(w.spec, slot, w.name, ctx);
      next.push(d);
    }
    this.dialers = next;
    for (const d of this.dialers) d.evaluate(this.links);
  }

  setLinks(links: LinkMap): void {
    this.links = links;
    for (const d of this.dialers) d.evaluate(links);
  }

  private onWelcome(incarnation: Buffer): void {
    if (this.incarnation && !this.incarnation.equals(incarnation) && this.mux.flowCount > 0) {
      this.log.warn({ flows: this.mux.flowCount }, 'relay exit lost our session (restarted?): resetting its flows');
      this.mux.resetAll(Reason.RESET, false);
    }
    this.incarnation = incarnation;
  }

  private onConnection(sock: net.Socket): void {
    this.accepted++;
    sock.on('error', () => undefined);
    const target = this.targetOf(sock);
    if (!target) {
      sock.resetAndDestroy();
      return;
    }
    const flow = new SocketFlow(sock);
    const id = this.mux.openFlow(flow, target);
    flow.bind(this.mux, id);
  }

  private targetOf(sock: net.Socket): Target | undefined {
    if (this.cfg.target) return { host: this.cfg.target.host, port: this.cfg.target.port, family: this.cfg.target.family };
    const lookup = this.deps.originalDst;
    if (!lookup) {
      if (!this.warnedNoLookup) this.log.error('cannot learn the original destination (native addon missing): resetting redirected connections');
      this.warnedNoLookup = true;
      return undefined;
    }
    const local = sock.localAddress ?? '';
    const mapped = local.startsWith('::ffff:') && local.includes('.');
    const family: 4 | 6 = mapped || net.isIPv4(local) ? 4 : 6;
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) {
      this.log.warn({ client: sock.remoteAddress }, 'relay entry: accepted socket has no file descriptor');
      return undefined;
    }
    let dst: { host: string; port: number };
    try {
      dst = lookup(fd, family);
    } catch (err) {
      this.lookupFailed(sock, err);
      return undefined;
    }
    const localHost = mapped ? local.slice(7) : local;
    if (sameAddress(dst.host, localHost) && dst.port === sock.localPort) {
      this.log.warn({ client: `${sock.remoteAddress}:${sock.remotePort}` }, 'relay entry: connection was made to the entry itself, not redirected; refusing');
      return undefined;
    }
    return { host: dst.host, port: dst.port, family };
  }

  /** Log a failed original-destination lookup; at most one line per 10 s (a missing addon fails them all). */
  private lookupFailed(sock: net.Socket, err: unknown): void {
    const now = this.deps.clock.now();
    if (now - this.lastLookupLog < 10_000) {
      this.suppressedLookups++;
      return;
    }
    this.log.warn(
      { client: `${sock.remoteAddress}:${sock.remotePort}`, err: errorMessage(err), code: errorCode(err), suppressed: this.suppressedLookups },
      'relay entry: no original destination for a connection (not redirected, or the native addon is missing); reset',
    );
    this.lastLookupLog = now;
    this.suppressedLookups = 0;
  }

  /** `wanbraid speedtest` over this entry's paths, in sessions of its own (speedtest.ts): its users' flows are not touched. */
  speedTest(seconds: number, onProgress?: (p: Progress) => void): Promise<SpeedTestResult> {
    return runSpeedTest(
      {
        entryName: this.cfg.name,
        exit: this.cfg.exit,
        key: this.key,
        tuning: this.tuning,
        paths: this.cfg.paths.map((spec, i) => ({ name: pathName(spec, i), spec })),
        links: () => this.links,
        clock: this.deps.clock,
        log: this.log,
      },
      seconds,
      onProgress,
      this.stopping.signal,
    );
  }

  status(): RelayEntryStatus {
    const now = this.deps.clock.now();
    const m = this.mux.status();
    const paths: RelayPathStatus[] = this.dialers.map((d) => {
      const mp = d.state === 'up' ? m.paths.find((p) => p.id === d.muxId) : undefined;
      return pathStatus(d.name, d.state, d.reason, d.local, d.remote, mp, now - d.since);
    });
    return {
      name: this.cfg.name,
      listen: formatEndpoint(this.cfg.listen),
      target: this.cfg.target ? formatEndpoint(this.cfg.target) : 'transparent',
      exit: formatEndpoint(this.cfg.exit),
      paths,
      accepted: this.accepted,
      ...muxCounters(m),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.cancelOrphan?.();
    this.cancelOrphan = undefined;
    for (const d of this.dialers) d.stop('relay entry stopping');
    this.mux.close();
    await closeServer(this.server);
  }
}

function sameSpec(a: PathSpecLike, b: PathSpecLike): boolean {
  return a.name === b.name && a.link === b.link && a.via?.host === b.via?.host && a.via?.port === b.via?.port;
}

function sameAddress(a: string, b: string): boolean {
  const x = ipToBytes(a);
  const y = ipToBytes(b);
  return !!x && !!y && x.equals(y);
}

/** Listen, or throw a {@link WanbraidError} naming what could not listen where. */
export function listen(server: net.Server, ep: { host: string; port: number }, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new WanbraidError('WB_RELAY_LISTEN', `${what}: cannot listen on ${formatEndpoint(ep)} (${err.code ?? err.message})`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: ep.host, port: ep.port }, () => {
      server.off('error', onError);
      server.on('error', () => undefined);
      resolve();
    });
  });
}

export function closeServer(server: net.Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  return new Promise((resolve) => server.close(() => resolve()));
}
