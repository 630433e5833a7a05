/**
 * The relay lab as a {@link TopologyPlan}: user ── entry ═ hop1..K ═ exit ── target, numbers from
 * addressing.ts. Pure.
 *
 * Path K is shaped inside hopK, both ways: egress toward the exit is the path's up rate, egress
 * toward the entry its down rate. Every byte of a path crosses exactly one tbf per direction and
 * the bottleneck queue sits in the network, as on a real path — not in the entry's or exit's own
 * qdisc, where local backpressure would flatter a relay's scheduler.
 */
import { relayAddressing, RELAY, MAX_PATHS, type RelayAddressing } from './addressing.js';
import { addressLines, CLIENT_SYSCTLS, emptyNode, FORWARDING_SYSCTLS, vethLine, type TopologyPlan } from './plan.js';
import { tbfLine, type LinkRate } from './rate.js';
import type { FaultTarget } from './faults.js';
import { WanbraidError } from '../errors.js';

export interface RelayPlanOptions {
  /** Number of paths (hops), 1..8. */
  paths: number;
  /** One per path (resolved). */
  rates: readonly LinkRate[];
}

export function checkPathCount(paths: number): number {
  if (!Number.isInteger(paths) || paths < 1 || paths > MAX_PATHS) {
    throw new WanbraidError('WB_LAB', `paths: ${paths} is not a number of relay paths from 1 to ${MAX_PATHS}`);
  }
  return paths;
}

export function relayNodes(paths: number): string[] {
  return ['user', 'entry', ...Array.from({ length: paths }, (_, k) => `hop${k + 1}`), 'exit', 'target'];
}

export function planRelayLab(opts: RelayPlanOptions, ns: (node: string) => string): { plan: TopologyPlan; addr: RelayAddressing } {
  const n = checkPathCount(opts.paths);
  if (opts.rates.length !== n) throw new WanbraidError('WB_INTERNAL', `planRelayLab: ${opts.rates.length} rates for ${n} paths`);
  const addr = relayAddressing(n);

  const user = emptyNode('user', CLIENT_SYSCTLS);
  user.address.push(...addressLines('entry', `${RELAY.user4}/24`, `${RELAY.user6}/64`));
  user.route.push(`route add default via ${RELAY.entryUser4} dev entry`, `route add ::/0 via ${RELAY.entryUser6} dev entry`);

  const entry = emptyNode('entry', FORWARDING_SYSCTLS);
  entry.create.push(vethLine('user', 'entry', ns('user')));
  entry.address.push(...addressLines('user', `${RELAY.entryUser4}/24`, `${RELAY.entryUser6}/64`, false));

  const exit = emptyNode('exit', FORWARDING_SYSCTLS);
  exit.create.push(vethLine('target', 'exit', ns('target')));
  exit.address.push(...addressLines('target', `${RELAY.exit4}/24`, `${RELAY.exit6}/64`, false));

  const target = emptyNode('target', []);
  target.address.push(...addressLines('exit', `${RELAY.target4}/24`, `${RELAY.target6}/64`));
  target.route.push(`route add default via ${RELAY.exit4} dev exit`, `route add ::/0 via ${RELAY.exit6} dev exit`);

  const hops = addr.paths.map((p, k) => {
    const rate = opts.rates[k]!;
    entry.create.push(vethLine(p.hop, 'entry', ns(p.hop)));
    entry.address.push(...addressLines(p.hop, `${p.entry4}/24`, `${p.entry6}/64`, false));

    const hop = emptyNode(p.hop, FORWARDING_SYSCTLS);
    hop.create.push(vethLine('exit', p.hop, ns('exit')));
    hop.address.push(...addressLines('entry', `${p.hop4}/24`, `${p.hop6}/64`), ...addressLines('exit', `${p.hopExit4}/24`, `${p.hopExit6}/64`, false));
    hop.route.push(`route add ${RELAY.targetPrefix4} via ${p.exitHop4} dev exit`, `route add ${RELAY.targetPrefix6} via ${p.exitHop6} dev exit`);
    for (const line of [tbfLine('entry', rate.down), tbfLine('exit', rate.up)]) if (line) hop.tc.push(line);

    exit.address.push(...addressLines(p.hop, `${p.exitHop4}/24`, `${p.exitHop6}/64`));
    exit.route.push(`route add ${p.entryNet4} via ${p.hopExit4} dev ${p.hop}`, `route add ${p.entryNet6} via ${p.hopExit6} dev ${p.hop}`);
    return hop;
  });

  const faults: FaultTarget[] = addr.paths.map((p) => ({ link: p.name, index: p.index, node: p.hop, carrierDev: 'entry', farDev: 'exit', blackholeScope: 'all' }));
  const plan: TopologyPlan = {
    kind: 'relay',
    nodes: [user, entry, ...hops, exit, target],
    servicesNode: 'target',
    certIps: [RELAY.target4, RELAY.target6],
    faults,
  };
  return { plan, addr };
}
