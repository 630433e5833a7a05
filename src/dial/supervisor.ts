/**
 * The dial supervisor: dials every session of `dials:`, watches it, redials it when it fails, and
 * undoes what it created on stop. The decisions are pure (./session.ts, ./schedule.ts, ./dhcpcd.ts,
 * ./pppd.ts); this is their shell.
 *
 * - Start: a private runtime directory (0700) holds dhcpcd's configuration per session (0600),
 *   the hook (0700) and one pid file per running client. Clients left alive by an earlier run that
 *   crashed (their pid file names a dhcpcd or pppd process in this network namespace) are ended
 *   by PID before anything is dialled. Sessions are then dialled by the dial's mode: `sync` all at
 *   once, `stagger` one every `stagger`.
 * - Dialling a session: its macvlan is created on the parent with the session's stable MAC
 *   (./host.ts; an interface of that name that is not wanbraid's is never touched: the session
 *   fails with words), then one client runs on it: dhcpcd (DHCP) or pppd (PPPoE, the password on
 *   a pipe). Each session has at most one client at any time, so a dial never runs more than
 *   `sessions` clients; client output is read line by line with a bound (./lines.ts) and logged at
 *   debug level, rate-limited.
 * - Watching: the client's reports (dhcpcd's hook lines, pppd's address lines) make the session
 *   up, down or dialling; the client's exit, or the daemon's kernel view saying the macvlan went
 *   away or was set down (checked again with `ip` before acting), ends it. An ended session's client
 *   is stopped and its macvlan removed, and it is redialled after its own backoff (5 s doubling to
 *   5 min by default, reset after a stable minute); no other session is touched.
 * - Every change of a session calls `onChange(link, snapshot)`: the daemon hands the lease's
 *   router to health as the link's next hop and re-plans.
 * - Stop: timers cancelled, every client ended by PID (SIGTERM, SIGKILL after 5 s), every macvlan
 *   wanbraid created deleted, the runtime directory removed. Nothing else is touched.
 * Single-threaded: each session's operations run one after another on its own queue.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DialConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { LinkObservation } from '../model.js';
import { LogLimit } from '../util/log-limit.js';
import { dhcpcdArgv, dhcpcdConfig, dhcpcdHook, parseHookLine } from './dhcpcd.js';
import { sessionSpecs, type SessionSpec } from './expand.js';
import { checkMacvlan, clientGroupAlive, createMacvlan, deleteMacvlan, ifaceInfo, liveClient, signalClientGroup, spawnClient, type ClientHandle } from './host.js';
import { BoundedLines } from './lines.js';
import { parsePppdLine, pppdArgv, pppdExitReason } from './pppd.js';
import { dialOffsets } from './schedule.js';
import { Session, type Lease, type SessionSnapshot } from './session.js';
import type { DialSessionStatus, DialStatus } from './status.js';

export interface DialSupervisorOptions {
  dials: readonly DialConfig[];
  /** Private runtime directory (created 0700, removed on stop). */
  runDir: string;
  logger: Logger;
  /** A session's state, lease or error changed. */
  onChange?: (link: string, snapshot: SessionSnapshot) => void;
  /** Client programs (tests may point them elsewhere). */
  dhcpcd?: string;
  pppd?: string;
}

/** How long a client gets to exit after SIGTERM before SIGKILL (milliseconds). */
const KILL_GRACE_MS = 5000;
const CLIENT_COMMS = ['dhcpcd', 'pppd'];

class Runner {
  readonly session: Session;
  client: ClientHandle | undefined;
  /** A client that exited on its own: its process group may still hold helpers to end. */
  lastClient: ClientHandle | undefined;
  timer: NodeJS.Timeout | undefined;
  queue: Promise<void> = Promise.resolve();
  /** The macvlan's ifindex as created (a later loss report is checked against the kernel). */
  ifindex: number | undefined;
  ppp: { local?: string; remote?: string } = {};
  lastLine: string | undefined;
  readonly logLimit = new LogLimit(10_000, 20);

  constructor(
    readonly dial: DialConfig,
    readonly spec: SessionSpec,
    now: number,
  ) {
    this.session = new Session(dial.dial.redial, now);
  }
}

export class DialSupervisor {
  private readonly runners = new Map<string, Runner>();
  private readonly secrets = new Map<string, string>();
  private stopped = false;
  private readonly hookFile: string;

  constructor(private readonly opts: DialSupervisorOptions) {
    this.hookFile = join(opts.runDir, 'dhcpcd-hook');
    const now = Date.now();
    for (const d of opts.dials) for (const s of sessionSpecs(d)) this.runners.set(s.link, new Runner(d, s, now));
  }

  /** Prepare the runtime directory, end clients an earlier run left, and start dialling. */
  async start(): Promise<void> {
    const { runDir } = this.opts;
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    chmodSync(runDir, 0o700);
    writeFileSync(this.hookFile, dhcpcdHook(), { mode: 0o700 });
    chmodSync(this.hookFile, 0o700);
    for (const d of this.opts.dials) {
      if (d.pppoe) this.secrets.set(d.name, readFileSync(d.pppoe.passwordFile, 'utf8').split('\n')[0]!.replace(/\r$/, ''));
    }
    await Promise.all([...this.runners.values()].map((r) => this.endLeftover(r)));
    for (const d of this.opts.dials) {
      const offsets = dialOffsets(d.dial.mode, d.sessions, d.dial.stagger);
      for (const s of sessionSpecs(d)) {
        const r = this.runners.get(s.link)!;
        const at = offsets[s.index - 1]!;
        if (at === 0) this.enqueue(r, () => this.dialSession(r));
        else r.timer = setTimeout(() => this.enqueue(r, () => this.dialSession(r)), at);
      }
    }
  }

  /** The kernel's view of a session's link changed (from health): a lost macvlan ends the session. */
  observe(link: string, obs: LinkObservation): void {
    const r = this.runners.get(link);
    if (!r || this.stopped || r.dial.method !== 'dhcp' || !r.client) return;
    if (obs.ifindex !== undefined && obs.adminUp) return;
    this.enqueue(r, async () => {
      if (!r.client) return;
      const now = await ifaceInfo(r.spec.macvlan);
      if (now && now.adminUp && now.ifindex === r.ifindex) return; // a stale report: ours is fine
      await this.endSession(r, now ? `the macvlan ${r.spec.macvlan} was set down` : `the macvlan ${r.spec.macvlan} went away`);
    });
  }

  /** The next hop of an up session (the DHCP router option). */
  gateway(link: string): { ipv4?: string } | undefined {
    const s = this.runners.get(link)?.session.snapshot;
    return s?.state === 'up' && s.lease?.router ? { ipv4: s.lease.router } : undefined;
  }

  snapshot(link: string): SessionSnapshot | undefined {
    return this.runners.get(link)?.session.snapshot;
  }

  status(now = Date.now()): DialStatus[] {
    return this.opts.dials.map((d) => {
      const sessions = sessionSpecs(d).map((spec): DialSessionStatus => {
        const r = this.runners.get(spec.link)!;
        const s = r.session.snapshot;
        const out: DialSessionStatus = { index: spec.index, link: spec.link, macvlan: spec.macvlan, mac: spec.mac, state: s.state, since: new Date(s.since).toISOString(), attempts: s.attempts };
        if (s.lease) out.address = `${s.lease.address}/${s.lease.prefixLen}`;
        if (s.lease?.router) out.router = s.lease.router;
        if (s.upSince !== undefined) out.uptimeMs = Math.max(0, now - s.upSince);
        if (s.lastError) out.lastError = s.lastError;
        if (s.nextDialAt !== undefined) out.nextDialAt = new Date(s.nextDialAt).toISOString();
        if (r.client?.pid !== undefined) out.pid = r.client.pid;
        return out;
      });
      return { name: d.name, parent: d.parent, method: d.method, total: d.sessions, up: sessions.filter((s) => s.state === 'up').length, sessions };
    });
  }

  /** End every client by PID and delete every macvlan this supervisor created. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const all = [...this.runners.values()];
    for (const r of all) clearTimeout(r.timer);
    await Promise.all(
      all.map(async (r) => {
        await r.queue.catch(() => undefined);
        await this.killClient(r);
        await deleteMacvlan(r.spec.macvlan, r.dial.parent, r.spec.mac).catch((err: unknown) =>
          this.opts.logger.error({ op: 'dial-stop', link: r.spec.link, err: errorMessage(err) }, `cannot delete macvlan ${r.spec.macvlan}`),
        );
      }),
    );
    rmSync(this.opts.runDir, { recursive: true, force: true });
  }

  // -------------------------------------------------------------------------------------------

  private enqueue(r: Runner, op: () => Promise<void>): void {
    r.queue = r.queue.then(op).catch((err: unknown) => this.opts.logger.error({ op: 'dial', link: r.spec.link, err: errorMessage(err) }, 'dial supervisor step failed'));
  }

  private pidFile(r: Runner): string {
    return join(this.opts.runDir, `${r.spec.link}.pid`);
  }

  /** A client of an earlier run (crashed daemon) still holding the session: end it by PID. */
  private async endLeftover(r: Runner): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidFile(r), 'utf8').trim());
    } catch {
      return;
    }
    if (Number.isInteger(pid) && pid > 1 && liveClient(pid, CLIENT_COMMS)) {
      this.opts.logger.warn({ op: 'dial', link: r.spec.link, pid }, 'ending the client an earlier run left');
      await endGroup(pid);
    }
    rmSync(this.pidFile(r), { force: true });
  }

  private apply(r: Runner, e: Parameters<Session['apply']>[0]): void {
    const prev = r.session.snapshot;
    if (!r.session.apply(e, Date.now())) return;
    const s = r.session.snapshot;
    if (s.state !== prev.state || s.lastError !== prev.lastError) {
      const level = s.state === 'failed' ? 'warn' : 'info';
      this.opts.logger[level](
        {
          dial: r.dial.name,
          link: r.spec.link,
          op: 'session',
          state: s.state,
          prev: prev.state,
          attempts: s.attempts,
          ...(s.lease ? { address: `${s.lease.address}/${s.lease.prefixLen}`, router: s.lease.router ?? null } : {}),
          ...(s.lastError && s.state !== 'up' ? { error: s.lastError } : {}),
          ...(s.nextDialAt !== undefined ? { redialInMs: s.nextDialAt - Date.now() } : {}),
        },
        `session ${r.spec.link}: ${s.state}${s.state !== 'up' && s.lastError ? ` (${s.lastError})` : ''}`,
      );
    }
    this.opts.onChange?.(r.spec.link, s);
  }

  private async dialSession(r: Runner): Promise<void> {
    if (this.stopped || r.client) return;
    r.timer = undefined;
    this.apply(r, { kind: 'dial' });
    const { spec, dial } = r;
    try {
      const c = await checkMacvlan(spec.macvlan, dial.parent, spec.mac);
      if (c.kind === 'foreign') throw new Error(c.why);
      if (c.kind === 'ours') await deleteMacvlan(spec.macvlan, dial.parent, spec.mac);
      r.ifindex = (await createMacvlan(spec.macvlan, dial.parent, spec.mac)).ifindex;
    } catch (err) {
      this.fail(r, `cannot create macvlan ${spec.macvlan}: ${errorMessage(err)}`);
      return;
    }
    if (this.stopped) return;
    this.startClient(r);
  }

  private startClient(r: Runner): void {
    const { spec, dial } = r;
    let argv: string[];
    let secret: string | undefined;
    if (dial.method === 'dhcp') {
      const conf = join(this.opts.runDir, `${spec.link}.conf`);
      writeFileSync(conf, dhcpcdConfig(dial.name, spec.index), { mode: 0o600 });
      argv = dhcpcdArgv(spec.macvlan, conf, this.hookFile, this.opts.dhcpcd);
    } else {
      argv = pppdArgv({ nic: spec.macvlan, ifname: spec.interface, username: dial.pppoe!.username, mtu: dial.pppoe!.mtu }, this.opts.pppd);
      secret = this.secrets.get(dial.name) ?? '';
    }
    r.ppp = {};
    r.lastLine = undefined;
    const client = spawnClient(argv, secret);
    r.client = client;
    if (client.pid !== undefined) writeFileSync(this.pidFile(r), `${client.pid}\n`, { mode: 0o600 });
    this.opts.logger.debug({ op: 'dial', link: spec.link, pid: client.pid, argv }, `session ${spec.link}: client started`);
    const onLine = (stream: 'stdout' | 'stderr') => (line: string) => this.onClientLine(r, client, stream, line);
    const out = new BoundedLines(onLine('stdout'));
    const err = new BoundedLines(onLine('stderr'));
    client.child.stdout?.setEncoding('utf8').on('data', (d: string) => out.push(d));
    client.child.stderr?.setEncoding('utf8').on('data', (d: string) => err.push(d));
    void client.exited.then(({ code, signal }) => this.enqueue(r, async () => this.onClientExit(r, client, code, signal)));
  }

  private onClientLine(r: Runner, client: ClientHandle, stream: 'stdout' | 'stderr', line: string): void {
    if (r.client !== client || this.stopped) return;
    const text = line.trim();
    if (text === '') return;
    if (r.logLimit.allow(Date.now())) this.opts.logger.debug({ op: 'dial-client', link: r.spec.link, stream, line: text }, 'client output');
    if (r.dial.method === 'dhcp') {
      const rep = parseHookLine(text);
      if (!rep) {
        r.lastLine = text;
        return;
      }
      if (rep.kind === 'lease') this.apply(r, { kind: 'lease', lease: rep.lease });
      else if (rep.kind === 'lost') this.apply(r, { kind: 'lost', error: rep.error });
      return;
    }
    const p = parsePppdLine(text);
    if (p.kind === 'other') {
      r.lastLine = text;
      return;
    }
    r.ppp[p.kind] = p.address;
    if (r.ppp.local && r.ppp.remote) {
      const lease: Lease = { address: r.ppp.local, prefixLen: 32, router: undefined };
      this.apply(r, { kind: 'lease', lease });
    }
  }

  private onClientExit(r: Runner, client: ClientHandle, code: number | null, signal: NodeJS.Signals | null): void {
    if (r.client !== client) return;
    r.client = undefined;
    r.lastClient = client;
    if (this.stopped) return;
    const words =
      r.dial.method === 'pppoe'
        ? `${pppdExitReason(code, signal)}${(code === 1 || code === 2) && r.lastLine ? `: ${r.lastLine.slice(0, 200)}` : ''}`
        : `the DHCP client exited (${code === null ? `signal ${signal ?? '?'}` : `status ${code}`})${r.lastLine ? `: ${r.lastLine.slice(0, 200)}` : ''}`;
    this.fail(r, words);
  }

  /** The session ended: record why, stop its client, remove its macvlan, arm its redial. */
  private async endSession(r: Runner, words: string): Promise<void> {
    this.apply(r, { kind: 'ended', error: words });
    await this.killClient(r);
    await deleteMacvlan(r.spec.macvlan, r.dial.parent, r.spec.mac);
    this.armRedial(r);
  }

  private fail(r: Runner, words: string): void {
    this.apply(r, { kind: 'ended', error: words });
    this.enqueue(r, async () => {
      await this.killClient(r);
      await deleteMacvlan(r.spec.macvlan, r.dial.parent, r.spec.mac);
      this.armRedial(r);
    });
  }

  private armRedial(r: Runner): void {
    if (this.stopped) return;
    clearTimeout(r.timer);
    const at = r.session.snapshot.nextDialAt ?? Date.now();
    r.timer = setTimeout(() => this.enqueue(r, () => this.dialSession(r)), Math.max(0, at - Date.now()));
  }

  private async killClient(r: Runner): Promise<void> {
    const c = r.client ?? r.lastClient;
    r.client = undefined;
    r.lastClient = undefined;
    if (!c) return;
    if (c.child.exitCode === null && c.child.signalCode === null) {
      c.child.kill('SIGTERM');
      const t = setTimeout(() => c.child.kill('SIGKILL'), KILL_GRACE_MS);
      await c.exited;
      clearTimeout(t);
    }
    await endGroup(c.pid);
    try {
      unlinkSync(this.pidFile(r));
    } catch {
      // not there
    }
  }
}

/** End what is left of a client's process group (helpers of a client that died), by its id. */
async function endGroup(pid: number | undefined): Promise<void> {
  if (pid === undefined || !clientGroupAlive(pid)) return;
  signalClientGroup(pid, 'SIGTERM');
  for (let i = 0; i < KILL_GRACE_MS / 50 && clientGroupAlive(pid); i++) await new Promise((res) => setTimeout(res, 50));
  if (clientGroupAlive(pid)) signalClientGroup(pid, 'SIGKILL');
}
