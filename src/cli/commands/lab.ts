/**
 * `wanbraid lab`: bring the network-namespace lab up and down from a shell, inject faults, run
 * programs in its nodes. The lab outlives `lab up`; its state file (lab/state.ts) lets later
 * commands find it. Only one lab per state directory.
 */
import { spawn } from 'node:child_process';
import { parse, EXIT_FAIL, EXIT_OK, type CliIO, type Command } from '../args.js';
import { Lab, RelayLab, attachRecord } from '../../lab/lab.js';
import type { Testbed, LabRecord } from '../../lab/testbed.js';
import { claimState, labStateDir, readState, removeState, stateFile, writeState, type StateContent } from '../../lab/state.js';
import { listNetns, nsName, newRunId } from '../../lab/netns.js';
import { parseFault, formatFault, formatFaultState, type FaultState } from '../../lab/faults.js';
import { parseRateList, resolveRates, formatLinkRate, type RateSpec } from '../../lab/rate.js';
import { formatLinkDelay, parseDelayList, resolveDelays, type DelayState, type LinkDelay } from '../../lab/delay.js';
import { combineProfiles, parseProfileList, PROFILE_NAMES, type ProfileName } from '../../lab/profiles.js';
import { MAX_LINKS, MAX_PATHS } from '../../lab/addressing.js';
import { exec } from '../../util/exec.js';
import { demo } from '../../lab/demo.js';
import { UsageError, WanbraidError } from '../../errors.js';

const USAGE = `usage: wanbraid lab up [--links N] [--rates LIST] [--delay LIST] [--profiles LIST] [--json]
       wanbraid lab up --relay [--paths N] [--rates LIST] [--delay LIST] [--profiles LIST] [--json]
       wanbraid lab status [--json]
       wanbraid lab fault LINK blackhole|loss PCT|carrier-down|carrier-up|delay DELAY|clear
       wanbraid lab exec NODE -- COMMAND [ARG...]
       wanbraid lab down
       wanbraid lab demo

The lab is a set of network namespaces (wanbraid-<runid>-<node>) for trying wanbraid safely:

  client ── lan0 ┐             ┌ isp1 ┐
                 router  wanN ─┤ ispN ├── inet (198.19.0.1/.2 track IPs, .10 servers, .20 relay exit)

Run wanbraid in the router with examples/wanbraid.yaml unchanged. --relay builds the relay lab
instead: user ── entry ═ hop1..K ═ exit ── target.

  up          build the lab (default 3 links) and start its services (iperf3, HTTP(S), DNS, echo)
      --links N       WAN links, 1..${MAX_LINKS}
      --relay         the relay topology; --paths N hops, 1..${MAX_PATHS} (default 2)
      --rates LIST    per link, comma-separated: RATE or DOWN/UP, - for unlimited
                      (e.g. 40mbit,40mbit,8mbit or 100mbit/10mbit,-)
      --delay LIST    per link, comma-separated one-way delay, both directions or DOWN/UP,
                      each DELAY[±JITTER][:STALL@EVERY] (+- for ±), - for none
                      (e.g. 5ms,30ms±5ms or 10ms/20ms,300ms; RTT through a link = down + up)
      --profiles LIST per link, comma-separated: ${PROFILE_NAMES.join(', ')} or - (rate, delay
                      and loss together; a --rates or --delay entry for the link replaces that part)
  status      nodes, links with rate, delay, carrier and faults, services
  fault       on LINK (wan2, 2 or isp2; path1 in the relay lab), inside that ISP (hop) only:
              blackhole (upstream dead, carrier up), loss PCT (random drop, both ways),
              carrier-down/carrier-up (the router's interface loses carrier), delay DELAY
              (as one --delay entry, e.g. 80ms±20ms or 10ms/30ms; none removes it),
              clear (all off, delay too)
  exec        run COMMAND inside NODE's namespace (client, router, isp1, inet, ...)
  down        end the services, delete the namespaces and the state file
  demo        the whole product in about 15 s, on a lab of its own: 3 links, the daemon in the
              router with examples/wanbraid.yaml, LAN traffic, a blackhole on wan1 and its
              recovery, then everything torn down and the host checked unchanged

State: ${'$'}WANBRAID_LAB_DIR/lab.json (default /run/wanbraid-lab/lab.json).
Exit status: 0 ok, 1 failure (or, for status, no lab up), 2 usage error.`;

function intOption(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`lab up: ${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  return n;
}

/** A state file whose lab is gone (no namespace left, or `lab up` died while starting). */
async function isStale(content: StateContent): Promise<boolean> {
  if (content.status === 'none') return true;
  if (content.status === 'starting') return !pidAlive(content.pid);
  const live = new Set(await listNetns());
  return !Object.values(content.record.namespaces).some((n) => live.has(n));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function current(dir: string): Promise<{ lab: Lab | RelayLab; record: LabRecord }> {
  const content = readState(dir);
  if (content.status === 'none') throw new WanbraidError('WB_LAB', `no lab is up (no ${stateFile(dir)})`);
  if (content.status === 'starting') {
    if (pidAlive(content.pid)) throw new WanbraidError('WB_LAB', `the lab is still being brought up by process ${content.pid}`);
    throw new WanbraidError('WB_LAB', `no lab is up (${stateFile(dir)} is left from a \`lab up\` that did not finish; \`wanbraid lab down\` removes it)`);
  }
  return { lab: attachRecord(content.record), record: content.record };
}

async function up(argv: string[], io: CliIO): Promise<number> {
  const { values } = parse('lab up', argv, {
    links: { type: 'string' },
    paths: { type: 'string' },
    relay: { type: 'boolean', default: false },
    rates: { type: 'string' },
    delay: { type: 'string' },
    profiles: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (values.relay && values.links !== undefined) throw new UsageError('lab up: --links is for the WAN lab; the relay lab takes --paths');
  if (!values.relay && values.paths !== undefined) throw new UsageError('lab up: --paths needs --relay');
  const count = values.relay ? (intOption(values.paths, '--paths', 1, MAX_PATHS) ?? 2) : (intOption(values.links, '--links', 1, MAX_LINKS) ?? 3);
  let rates: RateSpec[] | undefined;
  let delays: LinkDelay[] | undefined;
  let profiles: (ProfileName | null)[] | undefined;
  try {
    rates = values.rates === undefined ? undefined : parseRateList(values.rates);
    resolveRates(rates, count, '--rates');
    delays = values.delay === undefined ? undefined : parseDelayList(values.delay);
    resolveDelays(delays, count, '--delay');
    profiles = values.profiles === undefined ? undefined : parseProfileList(values.profiles);
    combineProfiles(count, profiles, rates, delays);
  } catch (err) {
    if (err instanceof WanbraidError) throw new UsageError(`lab up: ${err.message}`);
    throw err;
  }

  const dir = labStateDir();
  await claimState(dir, isStale);
  try {
    const opts = { runId: newRunId(), parentDir: dir, rates, delays, profiles, onProgress: (s: string) => io.err(`lab up: ${s}`) };
    const lab = values.relay ? await RelayLab.up({ ...opts, paths: count }) : await Lab.up({ ...opts, links: count });
    const record = lab.detach();
    writeState(dir, record);
    if (values.json) io.out(JSON.stringify({ ...record, addr: lab.addr }, null, 2));
    else {
      const what = record.kind === 'wan' ? `${count} link${count === 1 ? '' : 's'}` : `relay, ${count} path${count === 1 ? '' : 's'}`;
      const delayed = await Promise.all(lab.plan.faults.map((t) => lab.delayState(t.link)));
      const describe = (k: number) => {
        const d = delayed[k];
        return [lab.profiles[k] ?? '', formatLinkRate(lab.rates[k]!), d ? `delay ${formatLinkDelay(d.delay)}` : ''].filter(Boolean).join(' ');
      };
      io.out(`lab ${record.runId} up: ${what} (${lab.rates.map((_, k) => describe(k)).join(', ')})`);
      io.out(`  nodes: ${lab.nodes.join(' ')} (namespaces ${nsName(record.runId, 'NODE')})`);
      io.out(`  try:   wanbraid lab exec ${record.kind === 'wan' ? 'router' : 'entry'} -- ip -br addr`);
    }
    return EXIT_OK;
  } catch (err) {
    removeState(dir);
    throw err;
  }
}

async function down(argv: string[], io: CliIO): Promise<number> {
  parse('lab down', argv, {});
  const dir = labStateDir();
  const content = readState(dir);
  if (content.status === 'starting' && !pidAlive(content.pid)) {
    removeState(dir);
    io.err(`lab down: removed ${stateFile(dir)} left from a \`lab up\` that did not finish`);
    return EXIT_OK;
  }
  const { lab, record } = await current(dir);
  io.err(`lab down: ending services and deleting ${lab.nodes.length} namespaces`);
  await lab.down();
  removeState(dir);
  io.out(`lab ${record.runId} down`);
  return EXIT_OK;
}

interface LinkStatus {
  link: string;
  node: string;
  rate: string;
  profile: string | null;
  /** The link's delay element (settings and counters), null when it has none. */
  delay: DelayState | null;
  /** The router's (entry's) interface: has carrier. */
  lowerUp: boolean | null;
  faults: FaultState | null;
}

async function linkStatus(lab: Testbed<unknown>, live: Set<string>): Promise<LinkStatus[]> {
  const near = lab.kind === 'wan' ? 'router' : 'entry';
  return Promise.all(
    lab.plan.faults.map(async (t, k) => {
      const dev = lab.kind === 'wan' ? `wan${t.index}` : `hop${t.index}`;
      let lowerUp: boolean | null = null;
      if (live.has(lab.ns(near))) {
        const r = await lab.exec(near, ['ip', '-j', 'link', 'show', 'dev', dev], { allowFail: true });
        if (r.code === 0) lowerUp = ((JSON.parse(r.stdout) as { flags?: string[] }[])[0]?.flags ?? []).includes('LOWER_UP');
      }
      const faults = live.has(lab.ns(t.node)) ? await lab.faultState(t.link) : null;
      const delay = await lab.delayState(t.link);
      return { link: t.link, node: t.node, rate: formatLinkRate(lab.rates[k]!), profile: lab.profiles[k] ?? null, delay, lowerUp, faults };
    }),
  );
}

async function status(argv: string[], io: CliIO): Promise<number> {
  const { values } = parse('lab status', argv, { json: { type: 'boolean', default: false } });
  const dir = labStateDir();
  const content = readState(dir);
  if (content.status !== 'up') {
    if (values.json) io.out(JSON.stringify({ up: false, starting: content.status === 'starting' }));
    else io.out(content.status === 'starting' ? `a lab is being brought up (process ${content.pid})` : 'no lab is up');
    return EXIT_FAIL;
  }
  const { lab, record } = await current(dir);
  const live = new Set(await listNetns());
  const nodes = lab.nodes.map((n) => ({ node: n, namespace: lab.ns(n), present: live.has(lab.ns(n)) }));
  const services = await Promise.all(
    record.services.map(async (s) => {
      const r = await exec(['ip', 'netns', 'identify', String(s.pid)], { allowFail: true });
      return { ...s, running: r.code === 0 && r.stdout.trim() === lab.ns(s.node) };
    }),
  );
  const links = await linkStatus(lab, live);
  const healthy = nodes.every((n) => n.present) && services.every((s) => s.running);
  if (values.json) {
    io.out(JSON.stringify({ up: true, healthy, runId: record.runId, kind: record.kind, createdAt: record.createdAt, nodes, links, services, addr: lab.addr }, null, 2));
    return EXIT_OK;
  }
  io.out(`lab ${record.runId} (${record.kind}) up since ${record.createdAt}${healthy ? '' : ' — DAMAGED: see below'}`);
  io.out(`nodes: ${nodes.map((n) => (n.present ? n.node : `${n.node}(missing)`)).join(' ')}`);
  const rows = [
    ['link', 'via', 'profile', 'rate', 'delay', 'carrier', 'faults'],
    ...links.map((l) => [l.link, l.node, l.profile ?? '-', l.rate, l.delay ? formatLinkDelay(l.delay.delay) : 'none', l.lowerUp === null ? '?' : l.lowerUp ? 'up' : 'NO-CARRIER', l.faults ? formatFaultState(l.faults) : '?']),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) io.out(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  io.out(`services: ${services.map((s) => `${s.name}[${s.pid}]${s.running ? '' : ' (not running)'}`).join(' ')}`);
  return EXIT_OK;
}

async function fault(argv: string[], io: CliIO): Promise<number> {
  const [link, ...words] = argv;
  if (link === undefined || link.startsWith('-')) throw new UsageError('lab fault: missing LINK (see wanbraid lab --help)');
  let f;
  try {
    f = parseFault(words);
  } catch (err) {
    if (err instanceof WanbraidError) throw new UsageError(`lab fault: ${err.message}`);
    throw err;
  }
  const { lab } = await current(labStateDir());
  let t;
  try {
    t = lab.target(link);
  } catch (err) {
    if (err instanceof WanbraidError) throw new UsageError(`lab fault: ${err.message}`);
    throw err;
  }
  await lab.fault(t.link, f);
  const d = await lab.delayState(t.link);
  io.out(`${t.link}: ${formatFault(f)} → ${formatFaultState(await lab.faultState(t.link))}${d ? `, delay ${formatLinkDelay(d.delay)}` : ''}`);
  return EXIT_OK;
}

async function execIn(argv: string[], _io: CliIO): Promise<number> {
  const [node, ...rest] = argv;
  if (node === undefined || node === '--') throw new UsageError('lab exec: missing NODE (see wanbraid lab --help)');
  const cmd = rest[0] === '--' ? rest.slice(1) : rest;
  if (cmd.length === 0) throw new UsageError('lab exec: missing COMMAND (wanbraid lab exec NODE -- COMMAND [ARG...])');
  const { lab } = await current(labStateDir());
  if (!lab.nodes.includes(node)) throw new UsageError(`lab exec: no node "${node}" in this lab (nodes: ${lab.nodes.join(', ')})`);
  const child = spawn('ip', ['netns', 'exec', lab.ns(node), ...cmd], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new WanbraidError('WB_COMMAND_FAILED', `lab exec: ${err.message}`, { cause: err })));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : EXIT_FAIL)));
  });
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };

async function runDemo(argv: string[], io: CliIO): Promise<number> {
  parse('lab demo', argv, {});
  const r = await demo({ out: (t) => io.out(t) });
  // Every held connection has a link; those on the blackholed wan1 were cut, every other one still answers.
  const heldOk = r.held.connections.length === r.held.opened && r.held.connections.every((c) => c.link !== null && (c.link === 'wan1') !== (c.later === 'echoed'));
  const ok = heldOk && r.routerClean && r.hostUnchanged && r.afterFailover.echoed === r.afterFailover.opened;
  io.out(ok ? '\ndemo done.' : '\ndemo finished with problems (see above).');
  return ok ? EXIT_OK : EXIT_FAIL;
}

const SUBCOMMANDS: Record<string, (argv: string[], io: CliIO) => Promise<number>> = { up, down, status, fault, exec: execIn, demo: runDemo };

export const lab: Command = {
  summary: 'network-namespace lab: up, down, status, fault, exec, demo',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === undefined) throw new UsageError('lab: missing subcommand (up, down, status, fault, exec, demo; see wanbraid lab --help)');
    const f = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
    if (!f) throw new UsageError(`lab: unknown subcommand "${sub}" (up, down, status, fault, exec, demo)`);
    return f(rest, io);
  },
};
