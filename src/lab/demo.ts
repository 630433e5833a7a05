/**
 * `wanbraid lab demo`: the whole product on a fresh machine in about 15 seconds, touching
 * nothing outside its own namespaces.
 *
 *  1. build a 3-link lab (50/30/20 Mbit, like the example's 5:3:2 weights);
 *  2. run the daemon in the router namespace with the shipped example config (only the socket
 *     path changed, to one inside the lab's temp dir) and wait until every link is online;
 *  3. open LAN connections from the client and show how they spread over the links;
 *  4. hold connections open, note which link each one leaves on (the router's conntrack entry:
 *     the reply goes to that link's address), blackhole wan1 inside its ISP, and show the events
 *     as they come: wan1 offline, the plan applied; then which held connections survived, per
 *     link, and that new ones all succeed;
 *  5. clear the fault and show wan1 come back;
 *  6. stop the daemon (it removes its rules, routes, nexthops and nft table), tear the lab down,
 *     and check that `ip netns list` and `ip link` are as they were before.
 *
 * The steps report through `out` (the CLI prints them); the result carries the figures, which
 * the lab test checks.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Lab } from './lab.js';
import { NS_PREFIX, newRunId } from './netns.js';
import { CLIENT_SCRIPT } from './topology.js';
import { exec } from '../util/exec.js';
import { request, subscribe } from '../status/client.js';
import type { StatusObject } from '../status/types.js';
import { formatStatus } from '../cli/format-status.js';
import { WanbraidError, errorMessage } from '../errors.js';
import type { WanLinkAddressing } from './addressing.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEMO_CONFIG = join(ROOT, 'examples', 'wanbraid.yaml');
const BIN = join(ROOT, 'bin', 'wanbraid');

export interface DemoOptions {
  /** One line (or block) of narration. */
  out: (text: string) => void;
  /** Example config to run (default examples/wanbraid.yaml). */
  config?: string;
  runId?: string;
  /** Where the lab's temp dir goes (default the OS temp dir). */
  parentDir?: string;
}

export interface DemoResult {
  /** Milliseconds from the blackhole to wan1's offline event. */
  detectMs: number;
  /** New flows per link from the first batch of connections. */
  spread: Record<string, number>;
  /**
   * The connections held across the failover: how many, how many still answered afterwards,
   * and each one's link (null if the router had no entry for it) and outcome at the check after
   * the fault ('echoed', or what happened instead: 'ECONNRESET', 'timeout', ...).
   */
  held: { opened: number; survived: number; connections: HeldConnection[] };
  /** After the failover: new connections opened / echoed. */
  afterFailover: { opened: number; echoed: number };
  /** Milliseconds from clearing the fault to wan1 online again. */
  recoverMs: number;
  /** The daemon's kernel state was gone after its stop (ip rule, routes, nexthops, nft). */
  routerClean: boolean;
  /** `ip netns list` and `ip link` of this host were the same after as before. */
  hostUnchanged: boolean;
  /** The daemon's log lines. */
  log: string;
}

export interface HeldConnection {
  localPort: number;
  link: string | null;
  /** Outcome of the check before the fault (all 'echoed' when the demo goes on). */
  open: string;
  /** Outcome of the check after the failover. */
  later: string;
}

interface Hold {
  ok: boolean;
  opened: number;
  echoed: number;
  stillEchoing: number;
  connections?: { localPort: number; open: string; later: string }[];
}

/**
 * The link of each TCP connection in `conntrack -L` output of the router: original source port →
 * the link whose router address the reply goes to (the masquerade address). Only established
 * entries count (closed connections of an earlier step may linger in TIME_WAIT).
 */
export function linksByPort(conntrack: string, links: readonly Pick<WanLinkAddressing, 'name' | 'router4' | 'router6'>[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of conntrack.split('\n')) {
    if (!/\bESTABLISHED\b/.test(line)) continue;
    const sport = /\bsport=(\d+)/.exec(line);
    const dsts = [...line.matchAll(/\bdst=(\S+)/g)];
    const replyDst = dsts[1]?.[1];
    const link = links.find((l) => l.router4 === replyDst || l.router6 === replyDst);
    if (sport && link) out.set(Number(sport[1]), link.name);
  }
  return out;
}

/** Start `hold` in the client in the background: `ready` once every connection is open and checked. */
function holdInBackground(lab: Lab, args: string[], timeoutMs: number): { ready: Promise<number[]>; done: Promise<Hold> } {
  const child = lab.spawn('client', [process.execPath, CLIENT_SCRIPT, 'hold', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const ready = new Promise<number[]>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (l) => {
      stderr += l + '\n';
      try {
        const m = JSON.parse(l) as { localPorts?: number[] };
        if (Array.isArray(m.localPorts)) resolve(m.localPorts);
      } catch {
        /* not the progress line */
      }
    });
    void exited.then((code) => reject(new WanbraidError('WB_LAB', `demo: the client exited (${code}) before its connections were open: ${stdout}${stderr}`)));
  });
  ready.catch(() => undefined); // also reported through done
  const done = exited.then((code) => {
    clearTimeout(killer);
    if (stdout.trim() === '') throw new WanbraidError('WB_LAB', `demo: the client printed nothing (exit ${code}): ${stderr}`);
    return parseJson<Hold>(stdout, 'the client');
  });
  done.catch(() => undefined); // awaited by the caller unless an earlier step failed
  return { ready, done };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `ip netns list` and `ip -br link` of the host. Namespaces of other wanbraid labs (another run id:
 * tests or benchmarks running beside the demo on a shared machine) come and go on their own and
 * are left out; the demo's own and every other namespace are compared.
 */
async function hostState(runId: string): Promise<string> {
  const ns = await exec(['ip', 'netns', 'list'], { allowFail: true });
  const links = await exec(['ip', '-br', 'link'], { allowFail: true });
  return `${namespacesToCompare(ns.stdout, runId)}\n--\n${links.stdout}`;
}

/** `ip netns list` output without the lines of other wanbraid runs' namespaces. */
export function namespacesToCompare(list: string, runId: string): string {
  const other = new RegExp(`^${NS_PREFIX}(?!${runId}-)[0-9a-f]{6}-`);
  return list
    .split('\n')
    .filter((l) => !other.test(l))
    .join('\n');
}

async function status(sock: string): Promise<StatusObject> {
  const r = await request(sock, { cmd: 'status' });
  if (!r.ok) throw new WanbraidError('WB_LAB', `demo: status: ${r.error.message}`);
  return r.status as StatusObject;
}

/** Wait (event-driven, on the daemon's event stream) until `pred` holds for a status; `what` names it in the error. */
async function waitStatus(sock: string, what: string, pred: (s: StatusObject) => boolean, timeoutMs: number): Promise<StatusObject> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const first = await status(sock);
    if (pred(first)) return first;
    // Every line (the reply to subscribe, then each event) is a moment to look again.
    for await (const _ of subscribe(sock, ac.signal)) {
      const s = await status(sock);
      if (pred(s)) return s;
    }
    throw new WanbraidError('WB_TIMEOUT', `demo: ${what} did not happen within ${timeoutMs} ms`);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WanbraidError('WB_LAB', `demo: ${what} printed something that is not JSON: ${text.slice(0, 200)}`);
  }
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const out = opts.out;
  out('1/6 building a 3-link lab (50, 30 and 20 Mbit/s) in network namespaces');
  const lab = await Lab.up({
    links: 3,
    rates: ['50mbit', '30mbit', '20mbit'],
    ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
    ...(opts.parentDir !== undefined ? { parentDir: opts.parentDir } : {}),
  });
  let daemon: ChildProcess | undefined;
  let exited: Promise<number | null> | undefined;
  const log: string[] = [];
  let routerClean = false;
  try {
    const dir = join(lab.dir, 'demo');
    mkdirSync(dir, { recursive: true });
    const sock = join(dir, 'wanbraid.sock');
    const cfgFile = join(dir, 'wanbraid.yaml');
    const example = readFileSync(opts.config ?? DEMO_CONFIG, 'utf8');
    writeFileSync(cfgFile, example.replace(/^(\s*socket:\s*).*$/m, `$1${sock}`));
    out(`2/6 starting the daemon in the router namespace: wanbraid run -c ${cfgFile}`);
    out(`    (examples/wanbraid.yaml with status.socket moved to ${sock})`);
    daemon = lab.spawn('router', [process.execPath, BIN, 'run', '-c', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = daemon;
    exited = new Promise((r) => child.once('exit', (code) => r(code)));
    child.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    // The socket appears once the daemon listens; then wait for the links.
    const t0 = Date.now();
    for (;;) {
      try {
        await status(sock);
        break;
      } catch (err) {
        if (Date.now() - t0 > 15_000) throw new WanbraidError('WB_LAB', `demo: the daemon did not answer on ${sock}: ${errorMessage(err)}\n${log.join('')}`);
        await sleep(100);
      }
    }
    const online = (s: StatusObject, names: string[]) => names.every((n) => s.links.find((l) => l.name === n)?.state === 'online');
    let st = await waitStatus(sock, 'all links online', (s) => online(s, ['wan1', 'wan2', 'wan3']), 20_000);
    out(`    all three links online ${((Date.now() - t0) / 1000).toFixed(1)} s after start:\n`);
    out(indent(formatStatus(st, Date.now())));

    out('\n3/6 opening 100 TCP connections from the LAN client to 198.19.0.10 (the lab\'s internet)');
    const client = (args: string[], timeoutMs: number) => lab.exec('client', [process.execPath, CLIENT_SCRIPT, ...args], { timeoutMs, allowFail: true });
    const first = parseJson<Hold>((await client(['hold', lab.addr.inet.server4, String(lab.addr.ports.hold), '100', '0'], 30_000)).stdout, 'the client');
    // The daemon's counters are read at most once a second (one nft run shared by every reader):
    // wait until they show the connections just opened.
    const newFlows = (s: StatusObject) => s.links.reduce((n, l) => n + ((l.balance as { newFlows?: number } | undefined)?.newFlows ?? 0), 0);
    for (const t1 = Date.now(); ; await sleep(200)) {
      st = await status(sock);
      if (newFlows(st) >= first.opened || Date.now() - t1 > 10_000) break;
    }
    const spread: Record<string, number> = {};
    for (const l of st.links) spread[l.name] = (l.balance as { newFlows?: number } | undefined)?.newFlows ?? 0;
    out(`    ${first.echoed}/${first.opened} connections answered; new flows per link (weights 5:3:2): ${Object.entries(spread).map(([k, v]) => `${k} ${v}`).join(', ')}`);

    out('\n4/6 holding 60 connections open, then blackholing wan1 inside its ISP (carrier stays up)');
    const holding = holdInBackground(lab, [lab.addr.inet.server4, String(lab.addr.ports.hold), '60', '6000', '--timeout', '2000'], 60_000);
    const localPorts = await holding.ready;
    // Which link each held connection leaves on, read before the fault (its entry goes with the flush).
    const ct = await lab.exec('router', ['conntrack', '-L', '-f', 'ipv4', '-p', 'tcp', '--dport', String(lab.addr.ports.hold)], { allowFail: true });
    const linkOf = linksByPort(ct.stdout, lab.addr.links);
    const pinned: Record<string, number> = {};
    for (const p of localPorts) pinned[linkOf.get(p) ?? 'unknown'] = (pinned[linkOf.get(p) ?? 'unknown'] ?? 0) + 1;
    out(`    ${localPorts.length} connections open, per link: ${Object.entries(pinned).sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const ac = new AbortController();
    const events: string[] = [];
    let offlineAt = 0;
    const faultAt = Date.now();
    const watcher = (async () => {
      for await (const e of subscribe(sock, ac.signal)) {
        if (e.event === 'link') {
          events.push(`    +${((Date.now() - faultAt) / 1000).toFixed(2)} s  link ${String(e.link)}: ${String(e.prev)} → ${String(e.state)} (${String(e.reason)})`);
          if (e.link === 'wan1' && e.state === 'offline' && offlineAt === 0) offlineAt = Date.now();
        } else if (e.event === 'plan') {
          events.push(`    +${((Date.now() - faultAt) / 1000).toFixed(2)} s  plan applied in ${String(e.durationMs)} ms, conntrack flushed for: ${(e.conntrackFlushed as string[]).join(', ') || 'none'}`);
        }
      }
    })().catch(() => undefined);
    await lab.fault('wan1', { kind: 'blackhole' });
    st = await waitStatus(sock, 'wan1 offline', (s) => s.links.find((l) => l.name === 'wan1')?.state === 'offline', 10_000);
    const detectMs = (offlineAt || Date.now()) - faultAt;
    await sleep(300);
    for (const e of events.splice(0)) out(e);
    out(`    wan1 offline ${(detectMs / 1000).toFixed(2)} s after the blackhole`);
    const held = await holding.done;
    const connections: HeldConnection[] = (held.connections ?? []).map((c) => ({ localPort: c.localPort, link: linkOf.get(c.localPort) ?? null, open: c.open, later: c.later }));
    const perLink = (pred: (c: HeldConnection) => boolean) => {
      const byLink: Record<string, { n: number; echoed: number; outcomes: Record<string, number> }> = {};
      for (const c of connections.filter(pred)) {
        const b = (byLink[c.link ?? 'unknown'] ??= { n: 0, echoed: 0, outcomes: {} });
        b.n++;
        if (c.later === 'echoed') b.echoed++;
        b.outcomes[c.later] = (b.outcomes[c.later] ?? 0) + 1;
      }
      return Object.entries(byLink).sort();
    };
    const others = perLink((c) => c.link !== 'wan1').map(([k, b]) => `${k} ${b.echoed}/${b.n}`).join(', ');
    const cut = perLink((c) => c.link === 'wan1').map(([, b]) => `${b.n - b.echoed}/${b.n} cut (${Object.entries(b.outcomes).map(([o, n]) => `${n} ${o === 'ECONNRESET' ? 'reset' : o}`).join(', ')})`).join('');
    out(`    held connections: ${held.stillEchoing}/${held.opened} still answering: ${others || 'none on wan2 or wan3'}; wan1's: ${cut || 'none'}, so their applications reconnect`);
    const after = parseJson<Hold>((await client(['hold', lab.addr.inet.server4, String(lab.addr.ports.hold), '50', '0'], 30_000)).stdout, 'the client');
    out(`    new connections now: ${after.echoed}/${after.opened} answered, all through wan2 and wan3:\n`);
    out(indent(formatStatus(await status(sock), Date.now())));

    out('\n5/6 clearing the fault');
    const clearAt = Date.now();
    await lab.fault('wan1', { kind: 'clear' });
    await waitStatus(sock, 'wan1 online', (s) => online(s, ['wan1']), 15_000);
    const recoverMs = Date.now() - clearAt;
    await sleep(200);
    ac.abort();
    await watcher;
    for (const e of events.splice(0)) out(e.replace(/\+(\d+\.\d+) s/, (_m, v: string) => `+${(Number(v) - (clearAt - faultAt) / 1000).toFixed(2)} s`));
    out(`    wan1 online again ${(recoverMs / 1000).toFixed(2)} s after the fault cleared (3 good probe rounds)`);

    out('\n6/6 stopping the daemon (SIGTERM) and tearing the lab down');
    child.kill('SIGTERM');
    const code = await exited;
    daemon = undefined;
    if (code !== 0) throw new WanbraidError('WB_LAB', `demo: the daemon exited with ${code}:\n${log.join('')}`);
    const left = await lab.exec('router', ['sh', '-c', 'ip rule; ip -6 rule; ip route show table all proto 87; ip -6 route show table all proto 87; ip nexthop; nft list ruleset'], { allowFail: true });
    const leftover = left.stdout.split('\n').filter((l) => l.trim() !== '' && !/lookup (local|main|default)\s*$/.test(l));
    routerClean = leftover.length === 0;
    out(routerClean ? '    router: no wanbraid rule, route, nexthop or nft table left' : `    router: LEFT OVER:\n${indent(leftover.join('\n'))}`);
    return { detectMs, spread, held: { opened: held.opened, survived: held.stillEchoing, connections }, afterFailover: { opened: after.opened, echoed: after.echoed }, recoverMs, routerClean, hostUnchanged: false, log: log.join('') };
  } finally {
    if (daemon) {
      daemon.kill('SIGKILL');
      await exited;
    }
    await lab.down();
  }
}

/** Runs the demo and checks the host afterwards. */
export async function demo(opts: DemoOptions): Promise<DemoResult> {
  const runId = opts.runId ?? newRunId();
  const before = await hostState(runId);
  const r = await runDemo({ ...opts, runId });
  const after = await hostState(runId);
  r.hostUnchanged = before === after;
  opts.out(r.hostUnchanged ? '    host: `ip netns list` and `ip link` are as they were before the demo' : `    host: CHANGED\n--- before\n${before}\n--- after\n${after}`);
  return r;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? l : `    ${l}`))
    .join('\n');
}
