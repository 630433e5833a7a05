/**
 * The lab's numbers: every address, prefix, interface name and service port of both lab
 * topologies, as data, so that tests, benchmarks, docs and the example config agree. Pure.
 *
 * Multi-WAN lab (links I = 1..16):
 *
 * ```
 *  client ── lan0 ┐                      ┌ isp1 ─┐
 *                 router         wan1 ───┤       │
 *                                wan2 ───┤ isp2 ─┼── inet (lo: track, server, relay-exit addresses)
 *                                wanN ───┘ ispN ─┘
 * ```
 *
 * | where                          | interface | IPv4              | IPv6                   |
 * |--------------------------------|-----------|-------------------|------------------------|
 * | client                         | lan0      | 198.18.100.2/24   | 2001:db8:100::2/64     |
 * | router, LAN side               | lan0      | 198.18.100.1/24   | 2001:db8:100::1/64     |
 * | router, link I                 | wanI      | 198.18.I.1/24     | 2001:db8:I::1/64       |
 * | ispI toward the router (gw)    | router    | 198.18.I.254/24   | 2001:db8:I::254/64     |
 * | ispI toward inet               | inet      | 198.18.(64+I).1/24| 2001:db8:(64+I)::1/64  |
 * | inet toward ispI               | ispI      | 198.18.(64+I).2/24| 2001:db8:(64+I)::2/64  |
 * | inet track IPs                 | lo        | 198.19.0.1, .2    | 2001:db8:ffff::1, ::2  |
 * | inet test server               | lo        | 198.19.0.10       | 2001:db8:ffff::10      |
 * | inet relay-exit address        | lo        | 198.19.0.20       | 2001:db8:ffff::20      |
 *
 * In IPv6 prefixes the link number is written with the same decimal digits as in IPv4
 * (link 12 → 2001:db8:12::/64), so the two families read alike. Routes: client default via the
 * router; router none (the daemon under test adds them); ispI default via inet; inet reaches
 * 198.18.I.0/24 and 2001:db8:I::/64 back through ispI. No NAT anywhere.
 *
 * Relay lab (paths K = 1..8):
 *
 * ```
 *  user ── entry ═╦═ hop1 ═╗
 *                 ╚═ hop2 ═╩═ exit ── target
 * ```
 *
 * | where                 | interface | IPv4               | IPv6                  |
 * |-----------------------|-----------|--------------------|-----------------------|
 * | user                  | entry     | 198.18.110.2/24    | 2001:db8:110::2/64    |
 * | entry, user side      | user      | 198.18.110.1/24    | 2001:db8:110::1/64    |
 * | entry, path K         | hopK      | 198.18.(10+K).1/24 | 2001:db8:(10+K)::1/64 |
 * | hopK toward entry     | entry     | 198.18.(10+K).2/24 | 2001:db8:(10+K)::2/64 |
 * | hopK toward exit      | exit      | 198.18.(20+K).1/24 | 2001:db8:(20+K)::1/64 |
 * | exit toward hopK      | hopK      | 198.18.(20+K).2/24 | 2001:db8:(20+K)::2/64 |
 * | exit toward target    | target    | 198.19.0.20/24     | 2001:db8:ffff::20/64  |
 * | target                | exit      | 198.19.0.10/24     | 2001:db8:ffff::10/64  |
 *
 * Routes: user default via entry; entry only its connected networks (traffic reaches the exit
 * through the relay, or through a hop with a route a test adds); hops forward and reach
 * 198.19.0.0/24 via the exit; the exit reaches 198.18.(10+K).0/24 back via hopK; target default
 * via the exit.
 *
 * Every interface is named after the node it leads to, except the router's and client's
 * `lan0`/`wanI`, which match examples/wanbraid.yaml.
 */

/** Links of the multi-WAN lab: 1..{@link MAX_LINKS}. */
export const MAX_LINKS = 16;
/** Paths of the relay lab: 1..{@link MAX_PATHS}. */
export const MAX_PATHS = 8;

/** Ports of the services the lab runs in `inet` (and in the relay lab's `target`). */
export const LAB_PORTS = {
  /** One `iperf3 -s` per port, for parallel measurements. */
  iperf3: [5201, 5202, 5203, 5204],
  /** HTTP: `/` 200, `/status/NNN`, `/slow/MS`, `/ip`, `/bytes/N`, `/hold`. */
  http: 80,
  https: 443,
  /** DNS over UDP: answers every query (A, AAAA, NS records; empty answer for other types). */
  dns: 53,
  /** TCP and UDP echo. */
  echo: 7,
  /** Accepts, echoes and keeps every connection open until the client closes it. */
  hold: 9000,
  /** Reads to end of stream, answers `BYTES SHA256HEX\n`, closes. */
  sink: 9001,
} as const;

/** Addresses in `inet` (the relay exit address also exists in the relay lab's `exit`). */
export const INET = {
  track4: ['198.19.0.1', '198.19.0.2'],
  track6: ['2001:db8:ffff::1', '2001:db8:ffff::2'],
  server4: '198.19.0.10',
  server6: '2001:db8:ffff::10',
  relayExit4: '198.19.0.20',
  relayExit6: '2001:db8:ffff::20',
} as const;

/** The LAN between client and router. */
export const LAN = {
  iface: 'lan0',
  prefix4: '198.18.100.0/24',
  prefix6: '2001:db8:100::/64',
  router4: '198.18.100.1',
  router6: '2001:db8:100::1',
  client4: '198.18.100.2',
  client6: '2001:db8:100::2',
} as const;

/** One WAN link of the multi-WAN lab: router `wanI` ⇄ `ispI` ⇄ `inet`. */
export interface WanLinkAddressing {
  /** 1-based link number I. */
  index: number;
  /** `wanI`: the link's name in examples/wanbraid.yaml and in {@link Lab.fault}. */
  name: string;
  /** Router interface (`wanI`). */
  iface: string;
  /** The ISP's node name (`ispI`). */
  isp: string;
  prefix4: string;
  prefix6: string;
  /** Router address on wanI. */
  router4: string;
  router6: string;
  /** The ISP's address toward the router: the link's gateway. */
  gateway4: string;
  gateway6: string;
  /** ISP ⇄ inet transfer network, the ISP's and inet's addresses in it. */
  transfer4: string;
  transfer6: string;
  ispUp4: string;
  ispUp6: string;
  inetSide4: string;
  inetSide6: string;
}

export function wanLinkAddressing(i: number): WanLinkAddressing {
  const t = 64 + i;
  return {
    index: i,
    name: `wan${i}`,
    iface: `wan${i}`,
    isp: `isp${i}`,
    prefix4: `198.18.${i}.0/24`,
    prefix6: `2001:db8:${i}::/64`,
    router4: `198.18.${i}.1`,
    router6: `2001:db8:${i}::1`,
    gateway4: `198.18.${i}.254`,
    gateway6: `2001:db8:${i}::254`,
    transfer4: `198.18.${t}.0/24`,
    transfer6: `2001:db8:${t}::/64`,
    ispUp4: `198.18.${t}.1`,
    ispUp6: `2001:db8:${t}::1`,
    inetSide4: `198.18.${t}.2`,
    inetSide6: `2001:db8:${t}::2`,
  };
}

/** Everything a test needs to address the multi-WAN lab. */
export interface LabAddressing {
  lan: typeof LAN;
  links: WanLinkAddressing[];
  inet: typeof INET;
  ports: typeof LAB_PORTS;
}

export function labAddressing(links: number): LabAddressing {
  return { lan: LAN, links: Array.from({ length: links }, (_, k) => wanLinkAddressing(k + 1)), inet: INET, ports: LAB_PORTS };
}

/** The relay lab's fixed addresses (user, entry's user side, exit's and target's). */
export const RELAY = {
  userPrefix4: '198.18.110.0/24',
  userPrefix6: '2001:db8:110::/64',
  user4: '198.18.110.2',
  user6: '2001:db8:110::2',
  entryUser4: '198.18.110.1',
  entryUser6: '2001:db8:110::1',
  /** exit ⇄ target network. */
  targetPrefix4: '198.19.0.0/24',
  targetPrefix6: '2001:db8:ffff::/64',
  exit4: INET.relayExit4,
  exit6: INET.relayExit6,
  target4: INET.server4,
  target6: INET.server6,
} as const;

/** One path of the relay lab: entry `hopK` ⇄ `hopK` ⇄ exit `hopK`. */
export interface RelayPathAddressing {
  /** 1-based path number K. */
  index: number;
  /** `pathK`: the path's name in {@link RelayLab.fault}. */
  name: string;
  /** The hop's node name (`hopK`), also the entry's and the exit's interface toward it. */
  hop: string;
  entryNet4: string;
  entryNet6: string;
  /** Entry's address toward the hop. */
  entry4: string;
  entry6: string;
  /** The hop's address toward the entry: what a relay path connects to (`via`). */
  hop4: string;
  hop6: string;
  exitNet4: string;
  exitNet6: string;
  /** The hop's address toward the exit. */
  hopExit4: string;
  hopExit6: string;
  /** The exit's address toward the hop. */
  exitHop4: string;
  exitHop6: string;
}

export function relayPathAddressing(k: number): RelayPathAddressing {
  const a = 10 + k;
  const b = 20 + k;
  return {
    index: k,
    name: `path${k}`,
    hop: `hop${k}`,
    entryNet4: `198.18.${a}.0/24`,
    entryNet6: `2001:db8:${a}::/64`,
    entry4: `198.18.${a}.1`,
    entry6: `2001:db8:${a}::1`,
    hop4: `198.18.${a}.2`,
    hop6: `2001:db8:${a}::2`,
    exitNet4: `198.18.${b}.0/24`,
    exitNet6: `2001:db8:${b}::/64`,
    hopExit4: `198.18.${b}.1`,
    hopExit6: `2001:db8:${b}::1`,
    exitHop4: `198.18.${b}.2`,
    exitHop6: `2001:db8:${b}::2`,
  };
}

export interface RelayAddressing {
  relay: typeof RELAY;
  paths: RelayPathAddressing[];
  ports: typeof LAB_PORTS;
}

export function relayAddressing(paths: number): RelayAddressing {
  return { relay: RELAY, paths: Array.from({ length: paths }, (_, k) => relayPathAddressing(k + 1)), ports: LAB_PORTS };
}
