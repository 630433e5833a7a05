/**
 * The relay exit: accepts path connections on `listen`, authenticates each (a connection that
 * fails the handshake is closed and logged, and nothing else changes), groups them into sessions
 * by the entry's session id, and connects each flow to its target, but only when the allow-list
 * permits the target (CIDR and port range). A refused open is answered with RST(not-allowed) and
 * logged. A session whose paths are all gone is kept for a while (its flows wait for a path to
 * come back), then dropped with its flows.
 *
 * Keys: each entry authenticates with its own key, named in its ClientHello; sessions belong to
 * the key that opened them (an entry can never join a session opened under another key). New keys
 * (reload) take effect at once: the sessions of a key that was removed or changed are closed, and
 * a handshake that finishes under such a key is refused.
 *
 * Limits (issue 9 §5, relay.tuning.max*): connections in the handshake are capped in total and per
 * source ({@link ConnectionGate}); one key may have `maxSessionsPerKey` sessions (a new one replaces
 * the oldest session that has no path left, else it is refused), a session `maxPathsPerSession`
 * paths and `maxFlowsPerSession` flows (core/mux.ts). Everything a peer can trigger repeatedly is
 * logged at most once per {@link LOG_INTERVAL_MS}, then as one summary line with the count.
 *
 * Test streams (`wanbraid speedtest`, TEST frame): served only with `relay.exit.speedtest`, at most
 * {@link MAX_TESTS} at once over all sessions, each capped in time and bytes and reset when it
 * outlives its cap ({@link RelayExit.openTest}); a session that only ever carried test streams is
 * dropped as soon as its last path goes.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { AllowRule, RelayExitConfig, RelayTuningConfig } from '../config/schema.js';
import { formatEndpoint } from '../config/values.js';
import { errorMessage } from '../errors.js';
import type { Clock } from './core/clock.js';
import { Mux } from './core/mux.js';
import { isAllowed, normalizeTarget } from './core/allow.js';
import { ConnectionGate, sourceKey } from './core/conn-gate.js';
import { LimitedLog } from '../util/log-limit.js';
import { Reason } from './protocol/constants.js';
import { isTestRequest, type OpenRequest, type Target, type TestRequest } from './protocol/frames.js';
import { TestStreamPort } from './test-stream.js';
import { serverHandshake, sendWelcome } from './net/handshake.js';
import type { ExitKeys } from './key.js';
import type { PeerKey } from './protocol/handshake.js';
import { SocketFlow } from './net/flow-socket.js';
import { closeServer, listen, muxTuning, sessionLingerMs } from './entry.js';
import type { RelayExitStatus } from './status.js';
import { muxCounters, pathStatus } from './status-collect.js';

export interface ExitDeps {
  logger: Logger;
  clock: Clock;
  /** Test-stream limits; default {@link MAX_TESTS}, {@link MAX_TEST_MS}, {@link MAX_TEST_BYTES}, {@link TEST_GRACE_MS} (tests lower them). */
  testLimits?: TestLimits;
}

export interface TestLimits {
  max: number;
  ms: number;
  bytes: number;
  graceMs: number;
}

/** A target connect that takes longer than this fails the flow (ms). */
const CONNECT_TIMEOUT_MS = 10_000;
/** Peer-triggered log lines: at most one per kind per interval, then a summary (ms). */
const LOG_INTERVAL_MS = 10_000;

/** Test streams (speed test) the exit serves at once, all sessions together; one more is refused RST(limit). */
export const MAX_TESTS = 2;
/** A test stream lasts at most this long whatever the entry asks (ms). */
export const MAX_TEST_MS = 30_000;
/** A download test stream sends at most this many bytes. */
export const MAX_TEST_BYTES = 4 * 1024 ** 3;
/** A test flow still open this long after its (capped) duration is reset (ms): an upload that never ends, a download never read. */
export const TEST_GRACE_MS = 10_000;


interface Session {
  id: Buffer;
  hex: string;
  /** The key the session was opened under; only paths under the same name and key join it. */
  keyName: string;
  key: PeerKey;
  incarnation: Buffer;
  entry: string;
  mux: Mux;
  paths: Map<number, { name: string; remote: string; since: number }>;
  pending: Map<number, net.Socket>;
  cancelLinger: (() => void) | undefined;
  /** Test streams of this session: their ports and the timer that resets a flow outliving its cap. */
  tests: Map<number, { port: TestStreamPort; cancel: () => void }>;
  /** Only test streams were opened in it (a `wanbraid speedtest` session): forgotten as soon as its last path goes. */
  testOnly: boolean | undefined;
}

export class RelayExit {
  private server: net.Server | undefined;
  private readonly sessions = new Map<string, Session>();
  private allow: readonly AllowRule[];
  private speedtest: boolean;
  private refused = 0;
  private rejected = 0;
  private connectFailed = 0;
  /** Test streams running now (all sessions), and served since start. */
  private testsRunning = 0;
  private testsServed = 0;
  /** Connections closed unread because the handshake caps were full (also counted in `rejected`). */
  private busy = 0;
  private readonly gate: ConnectionGate;
  private readonly logs: Record<'rejected' | 'refused' | 'connectFailed' | 'sessions' | 'paths' | 'tests', LimitedLog>;
  private readonly log: Logger;
  private stopped = false;

  constructor(
    readonly cfg: RelayExitConfig,
    readonly tuning: RelayTuningConfig,
    private keys: ExitKeys,
    private readonly deps: ExitDeps,
  ) {
    this.log = deps.logger.child({ role: 'exit' });
    this.allow = cfg.allow;
    this.speedtest = cfg.speedtest;
    this.gate = new ConnectionGate(tuning.maxHandshakes, tuning.maxHandshakesPerSource);
    const summary = (msg: string) => (suppressed: number, intervalMs: number) => this.log.warn({ suppressed, intervalMs }, msg);
    this.logs = {
      rejected: new LimitedLog(deps.clock, LOG_INTERVAL_MS, summary('relay connections rejected: more not logged one by one')),
      refused: new LimitedLog(deps.clock, LOG_INTERVAL_MS, summary('relay opens refused by the allow-list: more not logged one by one')),
      connectFailed: new LimitedLog(deps.clock, LOG_INTERVAL_MS, summary('relay target connects failed: more not logged one by one')),
      sessions: new LimitedLog(deps.clock, LOG_INTERVAL_MS, summary('relay sessions refused: more not logged one by one')),
      paths: new LimitedLog(deps.clock, LOG_INTERVAL_MS, summary('relay paths refused: more not logged one by one')),
      tests: new LimitedLog(deps.clock, LOG_INTERVAL_MS, summary('relay test streams: more not logged one by one')),
    };
  }

  /** A log line a peer can trigger: in full once per interval (then a summary), at debug level always. */
  private limited(kind: keyof RelayExit['logs'], level: 'warn' | 'info', detail: Record<string, unknown>, msg: string): void {
    if (!this.logs[kind].event(() => this.log[level](detail, msg))) this.log.debug(detail, msg);
  }

  /** Connections in the handshake now, and those closed unread because the caps were full (since start). */
  get admission(): { handshaking: number; busy: number } {
    return { handshaking: this.gate.active, busy: this.busy };
  }

  /** How long a session without paths keeps its flows (ms); the entry waits as long before it resets them. */
  get lingerMs(): number {
    return sessionLingerMs(this.tuning);
  }

  async start(): Promise<void> {
    const server = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
    this.server = server;
    await listen(server, this.cfg.listen, 'relay.exit');
    this.log.info({ listen: formatEndpoint(this.cfg.listen), allow: this.cfg.allow.length }, 'relay exit listening');
  }

  /** New allow-list (reload): applies to opens from now on; open flows are left alone. */
  setAllow(allow: readonly AllowRule[]): void {
    this.allow = allow;
  }

  /** Serve test streams or not (reload): applies to opens from now on; running tests finish. */
  setSpeedtest(on: boolean): void {
    this.speedtest = on;
  }

  /**
   * New keys (reload): the sessions of a key that is gone or changed are closed now (revocation);
   * handshakes from now on use the new keys.
   */
  setKeys(keys: ExitKeys): void {
    this.keys = keys;
    for (const s of [...this.sessions.values()]) if (!this.current(s.keyName, s.key)) this.dropSession(s, `key "${s.keyName}" was removed or changed`);
  }

  /** Whether `key` is still what this exit holds for `keyName`. */
  private current(keyName: string, key: PeerKey): boolean {
    return this.keys.lookup(keyName)?.psk.equals(key.psk) === true;
  }

  private onConnection(sock: net.Socket): void {
    const remote = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.on('error', () => undefined);
    const source = sourceKey(sock.remoteAddress);
    const full = this.gate.admit(source);
    if (full) {
      this.rejected++;
      this.busy++;
      const limit = full === 'total' ? this.tuning.maxHandshakes : this.tuning.maxHandshakesPerSource;
      this.limited('rejected', 'warn', { remote, source, handshaking: this.gate.active, limit, by: full }, 'relay connection rejected: too many connections in the handshake');
      sock.destroy();
      return;
    }
    let admitted = true;
    const release = () => {
      if (admitted) this.gate.release(source);
      admitted = false;
    };
    const timeout = Math.max(2 * this.tuning.pathTimeout, 1000);
    serverHandshake(sock, (n) => this.keys.lookup(n), timeout).then(
      ({ hello, keyName, key, sealer, finish }) => {
        release();
        if (this.stopped) {
          sock.destroy();
          return;
        }
        if (!this.current(keyName, key)) {
          this.rejected++;
          this.log.warn({ remote, key: keyName }, 'relay connection rejected: its key was removed or changed during the handshake');
          sock.destroy();
          return;
        }
        const slash = hello.name.indexOf('/');
        const entry = slash >= 0 ? hello.name.slice(0, slash) : '?';
        const name = slash >= 0 ? hello.name.slice(slash + 1) : hello.name;
        const s = this.session(hello.session, entry, keyName, key);
        if (!s) {
          this.limited('sessions', 'warn', { remote, entry, maxSessionsPerKey: this.tuning.maxSessionsPerKey }, 'relay session refused: too many sessions for its key');
          sock.destroy();
          return;
        }
        if (!s.mux.acceptsPath(hello.slot)) {
          const detail = { remote, entry, session: s.hex.slice(0, 8), paths: s.mux.pathCount, maxPathsPerSession: this.tuning.maxPathsPerSession };
          this.limited('paths', 'warn', detail, 'relay path refused: too many paths in the session');
          sock.destroy();
          return;
        }
        sendWelcome(sock, sealer, { incarnation: s.incarnation, window: this.tuning.reorderBuffer });
        const conn = finish();
        const id = s.mux.addPath(conn, { slot: hello.slot, name, peerWindow: hello.window });
        s.paths.set(id, { name, remote, since: this.deps.clock.now() });
        s.cancelLinger?.();
        s.cancelLinger = undefined;
        conn.attach({
          record: (frames, bytes) => s.mux.pathRecord(id, frames, bytes),
          closed: (reason, error) => {
            if (error) this.log.warn({ session: s.hex, entry: s.entry, path: name, remote, err: error.message }, 'relay path dropped: a record failed authentication or parsing');
            s.mux.pathClosed(id, reason);
          },
        });
      },
      (err: unknown) => {
        release();
        this.rejected++;
        this.limited('rejected', 'warn', { remote, err: errorMessage(err) }, 'relay connection rejected');
        sock.destroy();
      },
    );
  }

  /** The session `id` under `keyName`, created if new and the key's session limit allows (undefined: refused). */
  private session(id: Buffer, entry: string, keyName: string, key: PeerKey): Session | undefined {
    const hex = id.toString('hex');
    const mapKey = `${keyName}/${hex}`;
    const found = this.sessions.get(mapKey);
    if (found) return found;
    const mine = [...this.sessions.values()].filter((x) => x.keyName === keyName);
    if (mine.length >= this.tuning.maxSessionsPerKey) {
      // Sessions are in creation order: replace the oldest that has no path left (an entry that restarted).
      const idle = mine.find((x) => x.mux.pathCount === 0);
      if (!idle) return undefined;
      this.dropSession(idle, 'replaced: too many sessions for its key');
    }
    const log = this.log.child({ session: hex.slice(0, 8), entry, key: keyName });
    const s: Session = {
      id,
      hex,
      keyName,
      key,
      incarnation: randomBytes(8),
      entry,
      paths: new Map(),
      pending: new Map(),
      cancelLinger: undefined,
      tests: new Map(),
      testOnly: undefined,
      mux: undefined as unknown as Mux,
    };
    const tuning = { ...muxTuning(this.tuning), maxFlows: this.tuning.maxFlowsPerSession, maxPaths: this.tuning.maxPathsPerSession };
    s.mux = new Mux('exit', tuning, this.deps.clock, log, {
      onOpen: (flow, target) => this.open(s, flow, target),
      onFlowEnd: (flow) => {
        const t = s.tests.get(flow);
        if (t) {
          s.tests.delete(flow);
          t.cancel();
          t.port.close();
          this.testsRunning--;
        }
        const p = s.pending.get(flow);
        if (p) {
          s.pending.delete(flow);
          p.destroy();
        }
      },
      onPathDown: (pid) => {
        s.paths.delete(pid);
        if (s.mux.pathCount === 0 && s.testOnly === true && !this.stopped) {
          // A speed test's session: nothing to keep for a reconnect (the entry opens a new one per phase).
          this.dropSession(s, 'test session ended');
          return;
        }
        if (s.mux.pathCount === 0 && !s.cancelLinger && !this.stopped) {
          s.cancelLinger = this.deps.clock.after(this.lingerMs, () => this.dropSession(s, 'no path for too long'));
        }
      },
    });
    this.sessions.set(mapKey, s);
    log.info('relay session opened');
    return s;
  }

  private dropSession(s: Session, reason: string): void {
    this.log.info({ session: s.hex.slice(0, 8), entry: s.entry, key: s.keyName, flows: s.mux.flowCount, reason }, 'relay session closed');
    this.sessions.delete(`${s.keyName}/${s.hex}`);
    s.cancelLinger?.();
    for (const p of s.pending.values()) p.destroy();
    s.mux.close();
  }

  private open(s: Session, flow: number, asked: OpenRequest): void {
    if (isTestRequest(asked)) {
      s.testOnly ??= true;
      this.openTest(s, flow, asked);
      return;
    }
    s.testOnly = false;
    this.openTarget(s, flow, asked);
  }

  /**
   * A test stream: refused (RST not-allowed) unless `relay.exit.speedtest` is on, and (RST limit)
   * beyond {@link MAX_TESTS} at once. Download: we send generated bytes for the asked time, at
   * most {@link MAX_TEST_MS} and {@link MAX_TEST_BYTES}; upload: we count and discard. Either way
   * the flow is reset if it is still open {@link TEST_GRACE_MS} after its capped duration.
   */
  private openTest(s: Session, flow: number, req: TestRequest): void {
    const detail = { session: s.hex.slice(0, 8), entry: s.entry, flow, test: req.test, ms: req.ms };
    if (!this.speedtest) {
      this.limited('tests', 'warn', detail, 'relay test stream refused: relay.exit.speedtest is off');
      s.mux.refuseFlow(flow, Reason.NOT_ALLOWED);
      return;
    }
    const lim = this.deps.testLimits ?? { max: MAX_TESTS, ms: MAX_TEST_MS, bytes: MAX_TEST_BYTES, graceMs: TEST_GRACE_MS };
    if (this.testsRunning >= lim.max) {
      this.limited('tests', 'warn', { ...detail, running: this.testsRunning, max: lim.max }, 'relay test stream refused: too many at once');
      s.mux.refuseFlow(flow, Reason.LIMIT);
      return;
    }
    const ms = Math.min(req.ms, lim.ms);
    const port = new TestStreamPort(this.deps.clock, req.test === 'down' ? { ms, maxBytes: lim.bytes } : undefined);
    const cancel = this.deps.clock.after(ms + lim.graceMs, () => {
      this.limited('tests', 'warn', { ...detail, capMs: ms + lim.graceMs }, 'relay test stream reset: open past its time');
      s.mux.flowError(flow, Reason.LIMIT);
    });
    s.tests.set(flow, { port, cancel });
    this.testsRunning++;
    this.testsServed++;
    this.limited('tests', 'info', { ...detail, capMs: ms }, 'relay test stream');
    port.bind(s.mux, flow);
    s.mux.acceptFlow(flow, port);
    port.start();
  }

  private openTarget(s: Session, flow: number, asked: Target): void {
    // An IPv4-mapped IPv6 target is checked and connected as the IPv4 address it stands for.
    const t = normalizeTarget(asked);
    const target = formatEndpoint(t);
    if (!isAllowed(this.allow, t)) {
      this.refused++;
      this.limited('refused', 'warn', { session: s.hex.slice(0, 8), entry: s.entry, flow, target }, 'relay open refused: target not in the allow-list');
      s.mux.refuseFlow(flow, Reason.NOT_ALLOWED);
      return;
    }
    const sock = net.connect({ host: t.host, port: t.port, family: t.family, allowHalfOpen: true });
    s.pending.set(flow, sock);
    let connected = false;
    const timer = this.deps.clock.after(CONNECT_TIMEOUT_MS, () => sock.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (connected) return;
      timer();
      if (s.pending.get(flow) !== sock) return;
      s.pending.delete(flow);
      this.connectFailed++;
      this.limited('connectFailed', 'info', { flow, target, err: err.code ?? err.message }, 'relay target connect failed');
      s.mux.refuseFlow(flow, err.code === 'ECONNREFUSED' ? Reason.CONNECT_REFUSED : Reason.UNREACHABLE);
    });
    sock.once('connect', () => {
      connected = true;
      timer();
      if (s.pending.get(flow) !== sock) {
        sock.destroy();
        return;
      }
      s.pending.delete(flow);
      const port = new SocketFlow(sock);
      s.mux.acceptFlow(flow, port);
      port.bind(s.mux, flow);
    });
  }

  status(): RelayExitStatus {
    const now = this.deps.clock.now();
    return {
      listen: formatEndpoint(this.cfg.listen),
      refused: this.refused,
      rejected: this.rejected,
      connectFailed: this.connectFailed,
      tests: { running: this.testsRunning, served: this.testsServed, enabled: this.speedtest },
      sessions: [...this.sessions.values()].map((s) => {
        const m = s.mux.status();
        return {
          entry: s.entry,
          session: s.hex.slice(0, 8),
          paths: m.paths.map((mp) => {
            const info = s.paths.get(mp.id);
            return pathStatus(mp.name, 'up', undefined, undefined, info?.remote ?? '?', mp, now - (info?.since ?? now));
          }),
          ...muxCounters(m),
        };
      }),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of [...this.sessions.values()]) this.dropSession(s, 'relay exit stopping');
    for (const l of Object.values(this.logs)) l.close();
    await closeServer(this.server);
  }
}
