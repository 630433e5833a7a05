/**
 * The two lab topologies, ready to use:
 *
 * ```ts
 * const lab = await Lab.up({ links: 3, rates: ['40mbit', '40mbit', '8mbit'] });
 * try {
 *   await lab.exec('client', ['ping', '-c1', lab.addr.inet.server4]);
 *   await lab.fault('wan2', { kind: 'loss', pct: 10 });
 *   await lab.delay('wan3', '30ms±5ms');          // one way, each direction; null takes it away
 * } finally {
 *   await lab.down();
 * }
 * ```
 *
 * `up` checks every option before it touches anything (a bad option changes nothing), then
 * builds the namespaces from the pure plan (wan-plan.ts, relay-plan.ts) and starts the services;
 * if any step fails, whatever was made is removed before the error is thrown. A 3-link lab is
 * up in a few hundred milliseconds on an idle machine.
 */
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NamespaceSet, newRunId, nsName } from './netns.js';
import { planWanLab, wanNodes, checkLinkCount } from './wan-plan.js';
import { planRelayLab, relayNodes, checkPathCount } from './relay-plan.js';
import { faultCommands } from './faults.js';
import { applyPlan, makeCertificate, serviceSpecs, servicePorts, startServices, type CertFiles, type ServiceRecord } from './topology.js';
import { resolveRates, type LinkRate, type RateSpec } from './rate.js';
import { hasDelay, resolveDelays, type DelaySpec, type LinkDelay } from './delay.js';
import { applyDelay } from './delay-element.js';
import { combineProfiles, type ProfileName } from './profiles.js';
import { Testbed, type LabRecord, type TestbedInit } from './testbed.js';
import type { LabAddressing, RelayAddressing } from './addressing.js';
import type { TopologyKind, TopologyPlan } from './plan.js';
import { WanbraidError } from '../errors.js';

// One import for lab users: the classes, the numbers, the fault and rate types, the client.
export { Testbed, type LabRecord } from './testbed.js';
export * from './addressing.js';
export type { Fault, FaultKind, FaultState, FaultTarget } from './faults.js';
export type { LinkRate, RateSpec, Rate } from './rate.js';
export type { DelaySpec, DelayState, LinkDelay, OneWayDelay } from './delay.js';
export { PROFILES, PROFILE_NAMES, type LinkProfile, type ProfileName } from './profiles.js';
export { CLIENT_SCRIPT, type ServiceRecord } from './topology.js';

/** Options both topologies take. */
export interface CommonLabOptions {
  /** 6 lower-case hex characters (default: random). Namespaces are `wanbraid-<runId>-<node>`. */
  runId?: string;
  /**
   * Where the lab's own directory `wanbraid-lab-<runId>` (certificate, service logs) is made;
   * default the OS temp directory. `down` removes that directory and nothing else.
   */
  parentDir?: string;
  /** Start the services (iperf3, services.js); default true. */
  services?: boolean;
  /** Called with a short description of each step, for progress output. */
  onProgress?: (step: string) => void;
  /**
   * Per link, one-way delay and jitter, e.g. `['5ms', '30ms±5ms', '10ms/20ms']` (DOWN/UP) or
   * {@link LinkDelay}; missing = none. Change it later with {@link Testbed.delay}.
   */
  delays?: readonly DelaySpec[];
  /**
   * Per link, a named profile (`fibre`, `dsl`, `lte`, `geo-satellite`; profiles.ts) giving its
   * rate, delay and loss; `null` = none. A `rates` or `delays` entry for the same link replaces
   * that part of its profile.
   */
  profiles?: readonly (ProfileName | null)[];
}

export interface LabOptions extends CommonLabOptions {
  /** WAN links, 1..16; default 3. */
  links?: number;
  /** Per link, e.g. `['40mbit', '40mbit', '8mbit']` or `{ down: '100mbit', up: '10mbit' }`; missing = unlimited. */
  rates?: readonly RateSpec[];
}

export interface RelayLabOptions extends CommonLabOptions {
  /** Relay paths (hops), 1..8; default 2. */
  paths?: number;
  /** Per path, e.g. `['40mbit', '8mbit']`; missing = unlimited. */
  rates?: readonly RateSpec[];
}

export const LAB_DIR_PREFIX = 'wanbraid-lab-';

function checkRunId(runId: string): string {
  if (!/^[0-9a-f]{6}$/.test(runId)) throw new WanbraidError('WB_LAB', `runId: "${runId}" is not 6 lower-case hex characters`);
  return runId;
}

interface Built<A> {
  kind: TopologyKind;
  plan: TopologyPlan;
  addr: A;
  nodes: string[];
  rates: LinkRate[];
  delays: LinkDelay[];
  lossPct: number[];
  profiles: (ProfileName | null)[];
  dns: { a: string; aaaa: string };
}

async function bringUp<A>(opts: CommonLabOptions, build: (ns: (node: string) => string) => Built<A>): Promise<TestbedInit<A>> {
  const runId = checkRunId(opts.runId ?? newRunId());
  const progress = opts.onProgress ?? (() => undefined);
  const b = build((node) => nsName(runId, node));
  const dir = join(resolve(opts.parentDir ?? tmpdir()), `${LAB_DIR_PREFIX}${runId}`);
  const t0 = Date.now();
  await mkdir(dir, { mode: 0o700 });
  let set: NamespaceSet | undefined;
  try {
    const services = opts.services ?? true;
    const cert: Promise<CertFiles | undefined> = services ? makeCertificate(dir, b.plan.certIps) : Promise.resolve(undefined);
    cert.catch(() => undefined);
    progress(`creating ${b.nodes.length} namespaces (wanbraid-${runId}-*)`);
    set = await NamespaceSet.create(b.nodes, runId);
    progress('wiring links, addresses, routes and rates');
    await applyPlan(set, b.plan);
    let records: ServiceRecord[] = [];
    if (services) {
      progress(`starting services in ${b.plan.servicesNode}`);
      const files = await cert;
      records = await startServices(set, b.plan.servicesNode, dir, serviceSpecs(files, b.dns), servicePorts(files !== undefined));
    }
    const delayed = b.plan.faults.filter((_, k) => hasDelay(b.delays[k]!));
    if (delayed.length) progress(`starting delay elements on ${delayed.map((t) => t.link).join(', ')}`);
    for (const [k, t] of b.plan.faults.entries()) {
      if (hasDelay(b.delays[k]!)) await applyDelay(set, t, dir, b.delays[k]!);
      const pct = b.lossPct[k]!;
      if (pct > 0) await set.exec(t.node, ['nft', '-f', '-'], { input: faultCommands(t, { kind: 'loss', pct }).nft });
    }
    progress(`up in ${Date.now() - t0} ms`);
    return { kind: b.kind, runId, set, plan: b.plan, addr: b.addr, dir, rates: b.rates, profiles: b.profiles, services: records, createdAt: new Date().toISOString() };
  } catch (err) {
    // A half-built lab: remove what was made (processes, namespaces, directory), then report.
    await set?.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Per link: rate, delay and loss from the options (profiles or explicit values), all checked. */
function linkSettings(count: number, opts: { rates?: readonly RateSpec[] | undefined; delays?: readonly DelaySpec[] | undefined; profiles?: readonly (ProfileName | null)[] | undefined }) {
  // Each list on its own first, so that a bad entry is reported against its own option.
  resolveRates(opts.rates, count);
  resolveDelays(opts.delays, count);
  const combined = combineProfiles(count, opts.profiles, opts.rates, opts.delays);
  const rates = resolveRates(combined.map((c) => c.rate), count);
  const delays = resolveDelays(combined.map((c) => c.delay), count);
  return { rates, delays, lossPct: combined.map((c) => c.lossPct), profiles: combined.map((c) => c.profile) };
}

type LinkOptions = Pick<LabOptions, 'rates' | 'delays' | 'profiles'>;

function buildWan(count: number, opts: LinkOptions, ns: (node: string) => string): Built<LabAddressing> {
  const links = checkLinkCount(count);
  const s = linkSettings(links, opts);
  const { plan, addr } = planWanLab({ links, rates: s.rates }, ns);
  return { kind: 'wan', plan, addr, nodes: wanNodes(links), ...s, dns: { a: addr.inet.server4, aaaa: addr.inet.server6 } };
}

function buildRelay(count: number, opts: LinkOptions, ns: (node: string) => string): Built<RelayAddressing> {
  const paths = checkPathCount(count);
  const s = linkSettings(paths, opts);
  const { plan, addr } = planRelayLab({ paths, rates: s.rates }, ns);
  return { kind: 'relay', plan, addr, nodes: relayNodes(paths), ...s, dns: { a: addr.relay.target4, aaaa: addr.relay.target6 } };
}

/**
 * The multi-WAN lab: client ── router ── isp1..N ── inet (addressing.ts has every number).
 * Nodes: `client`, `router`, `isp1`..`ispN`, `inet`; links `wan1`..`wanN`.
 */
export class Lab extends Testbed<LabAddressing> {
  static async up(opts: LabOptions = {}): Promise<Lab> {
    return new Lab(await bringUp(opts, (ns) => buildWan(opts.links ?? 3, opts, ns)));
  }

  /** Rebuild the handle of a lab another process brought up and detached. */
  static attach(record: LabRecord): Lab {
    if (record.kind !== 'wan') throw new WanbraidError('WB_LAB', `lab ${record.runId} is a ${record.kind} lab, not a wan lab`);
    const b = buildWan(record.count, { rates: record.rates }, (node) => nsName(record.runId, node));
    return new Lab(initFromRecord(record, b));
  }
}

/**
 * The relay lab: user ── entry ═ hop1..K ═ exit ── target. Nodes: `user`, `entry`,
 * `hop1`..`hopK`, `exit`, `target`; paths `path1`..`pathK`.
 */
export class RelayLab extends Testbed<RelayAddressing> {
  static async up(opts: RelayLabOptions = {}): Promise<RelayLab> {
    return new RelayLab(await bringUp(opts, (ns) => buildRelay(opts.paths ?? 2, opts, ns)));
  }

  static attach(record: LabRecord): RelayLab {
    if (record.kind !== 'relay') throw new WanbraidError('WB_LAB', `lab ${record.runId} is a ${record.kind} lab, not a relay lab`);
    const b = buildRelay(record.count, { rates: record.rates }, (node) => nsName(record.runId, node));
    return new RelayLab(initFromRecord(record, b));
  }
}

function initFromRecord<A>(record: LabRecord, b: Built<A>): TestbedInit<A> {
  const expected = b.nodes.slice().sort().join(',');
  if (Object.keys(record.namespaces).sort().join(',') !== expected) {
    throw new WanbraidError('WB_LAB', `lab ${record.runId}: its record lists nodes ${Object.keys(record.namespaces).join(', ')}, expected ${b.nodes.join(', ')}`);
  }
  const set = NamespaceSet.adopt(record.runId, record.namespaces);
  return { kind: b.kind, runId: record.runId, set, plan: b.plan, addr: b.addr, dir: record.dir, rates: b.rates, profiles: record.profiles ?? b.profiles, services: record.services, createdAt: record.createdAt };
}

/** Rebuild either kind of lab from its record. */
export function attachRecord(record: LabRecord): Lab | RelayLab {
  return record.kind === 'wan' ? Lab.attach(record) : RelayLab.attach(record);
}
