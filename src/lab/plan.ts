/**
 * A lab topology as data: per node, the sysctls and the `ip`/`tc` batch lines that build it, in
 * phases that {@link applyPlan} (topology.ts) runs in order, every node of a phase in parallel:
 *
 * 1. sysctl — before any device exists, so `default.*` values reach every device;
 * 2. create — devices; a veth is created by one node with its peer placed straight into the
 *    other node's namespace (`peer name X netns NS`), its own end already up;
 * 3. address — remaining links up, addresses (IPv6 with `nodad`), qdiscs;
 * 4. route — routes, once every interface on every node is up with its addresses.
 *
 * Plans are pure: the same options and namespace names give the same lines, which the unit
 * tests check without root.
 */
import type { FaultTarget } from './faults.js';

/** What one node of the lab needs. Lines are `ip -batch` (or `tc -batch`) lines without the program name. */
export interface NodeSetup {
  node: string;
  /** `key=value` for `sysctl -w`. */
  sysctl: string[];
  create: string[];
  address: string[];
  tc: string[];
  route: string[];
}

export type TopologyKind = 'wan' | 'relay';

export interface TopologyPlan {
  kind: TopologyKind;
  /** In namespace creation order. */
  nodes: NodeSetup[];
  /** The node that runs the lab services (iperf3 and services.js). */
  servicesNode: string;
  /** IP addresses the HTTPS certificate names (subjectAltName). */
  certIps: string[];
  /** One per link/path, in order. */
  faults: FaultTarget[];
}

/** Every namespace starts from kernel defaults for what the lab relies on, whatever the host has. */
export const BASE_SYSCTLS: readonly string[] = [
  // Addresses usable at once, link-local ones included: nothing waits for DAD.
  'net.ipv6.conf.all.accept_dad=0',
  'net.ipv6.conf.default.accept_dad=0',
  // IPv6 addresses survive `carrier-down` (admin down) so `carrier-up` restores the link as it was.
  'net.ipv6.conf.all.keep_addr_on_down=1',
  'net.ipv6.conf.default.keep_addr_on_down=1',
  // IPv4 settings are inherited from the host's namespace: pin the kernel default.
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
];

export const FORWARDING_SYSCTLS: readonly string[] = ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'];

/**
 * Lab client namespaces: a socket must not re-randomise its hash after a retransmission timeout,
 * since veth hands that hash to the router's ECMP (see DESIGN.md, kernel facts).
 */
export const CLIENT_SYSCTLS: readonly string[] = ['net.core.txrehash=0'];

export function emptyNode(node: string, sysctl: readonly string[]): NodeSetup {
  return { node, sysctl: [...BASE_SYSCTLS, ...sysctl], create: [], address: [], tc: [], route: [] };
}

/** `ip` lines that bring `dev` up and give it one IPv4 and one IPv6 address. */
export function addressLines(dev: string, cidr4: string, cidr6: string, up = true): string[] {
  return [...(up ? [`link set dev ${dev} up`] : []), `addr add ${cidr4} dev ${dev}`, `addr add ${cidr6} dev ${dev} nodad`];
}

/** A veth created by the current node (its end `name`, up) with the peer `peer` in namespace `peerNs`. */
export function vethLine(name: string, peer: string, peerNs: string): string {
  return `link add name ${name} up type veth peer name ${peer} netns ${peerNs}`;
}
