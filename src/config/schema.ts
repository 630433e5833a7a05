/**
 * The configuration schema: YAML document → typed {@link Config} with defaults.
 *
 * Every object is strict (an unknown key is an error, so a typo never passes silently). Scalar
 * kinds (durations, sizes, addresses, endpoints) are parsed here into their typed forms, so the
 * rest of the daemon never sees a string like `500ms`. Cross-references between sections (rule →
 * policy, policy → link, path → link) are checked afterwards in validate.ts, where the whole
 * document is known.
 *
 * Units in the typed config: durations are milliseconds, sizes are bytes.
 */
import * as z from 'zod';
import {
  describeValue,
  parseDuration,
  parseEndpoint,
  parsePortRange,
  parsePrefix,
  parseSize,
  ipFamily,
  type Endpoint,
  type Prefix,
  type PortRange,
  type Family,
} from './values.js';

// ---------------------------------------------------------------------------------------------
// Scalar kinds

function scalar<T>(what: string | ((v: unknown) => string), parse: (v: unknown) => T | undefined) {
  return z.unknown().transform((v, ctx): T => {
    const out = parse(v);
    if (out === undefined) {
      const expected = typeof what === 'string' ? what : what(v);
      ctx.addIssue({ code: 'custom', message: `expected ${expected}, got ${describeValue(v)}`, input: v });
      return z.NEVER;
    }
    return out;
  });
}

/** Milliseconds. */
export const duration = () => scalar('a duration like 500ms, 2s, 1m or a number of milliseconds', parseDuration);
/** Bytes. */
export const size = () => scalar('a size like 64KiB, 4MiB or a number of bytes', parseSize);

export const ipAddress = () =>
  scalar('an IPv4 or IPv6 address', (v) => (typeof v === 'string' && ipFamily(v) ? v : undefined));

export const prefix = () =>
  scalar<Prefix>('an address or prefix like 198.18.0.0/15 or 2001:db8::/32', (v) => (typeof v === 'string' ? parsePrefix(v) : undefined));

export const endpoint = () =>
  scalar<Endpoint>('an address and port like 198.18.0.1:7000 or [2001:db8::1]:7000', (v) => (typeof v === 'string' ? parseEndpoint(v) : undefined));

export const portRange = () => scalar<PortRange>('a port (1-65535) or a range like 1000-2000', (v) => {
  const r = parsePortRange(v);
  return r && r.from > 0 ? r : undefined;
});

/** Names used in kernel and nft identifiers: short, ASCII, no spaces. */
export const objectName = () =>
  scalar('a name of letters, digits, "-" or "_" starting with a letter (at most 31 characters)', (v) =>
    typeof v === 'string' && /^[A-Za-z][A-Za-z0-9_-]{0,30}$/.test(v) ? v : undefined,
  );

export const interfaceName = () =>
  scalar('an interface name (1-15 characters, no "/", ":" or spaces)', (v) =>
    typeof v === 'string' && /^[^/:\s]{1,15}$/.test(v) && v !== '.' && v !== '..' ? v : undefined,
  );

const int = (min: number, max: number) => z.number().int().min(min).max(max);

// ---------------------------------------------------------------------------------------------
// Sections

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const Log = z.strictObject({
  level: z.enum(LOG_LEVELS).default('info'),
});

const Status = z.strictObject({
  /** Path of the unix control socket. */
  socket: z.string().min(1).default('/run/wanbraid/wanbraid.sock'),
  /** Group that may use the socket (mode 0660): status, events, set list. The daemon's own group when absent. */
  group: z.string().min(1).optional(),
  /** Group that may also change state over the socket: link overrides, set changes, reload. Root only when absent. */
  controlGroup: z.string().min(1).optional(),
});

const Metrics = z.strictObject({
  /** Prometheus text endpoint, e.g. 127.0.0.1:9780. */
  listen: endpoint(),
});

const Web = z.strictObject({
  /** Where the live dashboard listens (loopback by default). Any other address needs `tokenFile`. */
  listen: endpoint().default({ host: '127.0.0.1', port: 8787, family: 4 }),
  /** File holding the access token (one line, mode 0600, owned by the daemon's user). */
  tokenFile: z.string().min(1).optional(),
});

const Hooks = z.strictObject({
  /** Directory of executables run on each link state change. */
  dir: z.string().min(1),
  timeout: duration().default(5000),
});

const Lan = z.strictObject({
  interfaces: z.array(interfaceName()).min(1),
});

export const PROBE_METHODS = ['icmp', 'tcp', 'dns', 'http', 'https'] as const;

const Quality = z.strictObject({
  /** Loss over the window above which the link is degraded (percent). */
  maxLossPct: z.number().min(0).max(100).optional(),
  /** Mean RTT over the window above which the link is degraded (milliseconds). */
  maxRttMs: z.number().min(0).optional(),
  /** Mean absolute RTT difference of consecutive answers above which the link is degraded (milliseconds). */
  maxJitterMs: z.number().min(0).optional(),
  /** Hysteresis: a degraded link recovers only below these; default the max value * 0.5 for loss, * 0.8 for RTT and jitter. */
  recoverLossPct: z.number().min(0).max(100).optional(),
  recoverRttMs: z.number().min(0).optional(),
  recoverJitterMs: z.number().min(0).optional(),
});

const Probe = z.strictObject({
  method: z.enum(PROBE_METHODS).default('icmp'),
  /** Track IPs probed through this link, all of them every interval. */
  targets: z.array(ipAddress()).min(1),
  /** tcp: port to connect to (default 443); dns: resolver port (53); http(s): server port (80/443). */
  port: int(1, 65535).optional(),
  /** dns: the name queried (default "." asking for NS). */
  query: z.string().min(1).default('.'),
  /** http(s): path requested (default "/"). */
  path: z.string().startsWith('/').default('/'),
  /** http(s): Host header and TLS server name (default the target address). */
  host: z.string().min(1).optional(),
  /** http(s): status codes that count as an answer (default 200-399). */
  expectStatus: z.array(int(100, 599)).min(1).optional(),
  /** https: require a certificate valid for `host` (default off: any certificate; on catches captive portals). */
  verifyCertificate: z.boolean().default(false),
  interval: duration().default(500),
  timeout: duration().default(1000),
  /** Failed rounds in a row that make the link offline. */
  down: int(1, 1000).default(3),
  /** Good rounds in a row that bring it online. */
  up: int(1, 1000).default(3),
  /** Targets that must answer for a round to count as good. */
  reliability: int(1, 64).default(1),
  /** Sliding window for RTT, loss and jitter. */
  window: duration().default(10_000),
  quality: Quality.optional(),
  /**
   * The passive signal: while the link carries traffic, packets out with nothing in for
   * `passiveSilence` (at least 3× the link's RTT) make it suspect, and a burst of probes decides.
   */
  passive: z.boolean().default(true),
  /** Silence that makes a busy link suspect (50 ms to 10 s). */
  passiveSilence: scalar('a duration from 50ms to 10s, like 300ms', (v) => {
    const ms = parseDuration(v);
    return ms !== undefined && ms >= 50 && ms <= 10_000 ? ms : undefined;
  }).default(300),
});

export const DEGRADED_ACTIONS = ['keep', 'reduce', 'remove'] as const;

const Degraded = z.strictObject({
  /** What a degraded link does: keep its weight, run at `weight`, or leave the balancing. */
  action: z.enum(DEGRADED_ACTIONS).default('reduce'),
  weight: int(1, 1000).default(1),
});

export const INITIAL_STATES = ['probing', 'online', 'offline'] as const;

const Gateway = scalar<{ ipv4?: string; ipv6?: string }>((v) => (Array.isArray(v) ? 'one IPv4 and/or one IPv6 address' : 'an IPv4 or IPv6 address'), (v) => {
  const list = Array.isArray(v) ? v : [v];
  if (list.length < 1 || list.length > 2) return undefined;
  const out: { ipv4?: string; ipv6?: string } = {};
  for (const a of list) {
    const f = typeof a === 'string' ? ipFamily(a) : undefined;
    if (!f) return undefined;
    const key = f === 4 ? 'ipv4' : 'ipv6';
    if (out[key]) return undefined;
    out[key] = a as string;
  }
  return out;
});

const Link = z.strictObject({
  name: objectName(),
  interface: interfaceName(),
  /** Next hop: an address, or one per family. Learned from the main table (DHCP, RA, PPP) when absent. */
  gateway: Gateway.optional(),
  /** Share of new flows relative to the other links of the same tier; 0 = only when nothing else is up. */
  weight: int(0, 1000).default(1),
  /** Masquerade forwarded traffic leaving through this link (SNAT to `snat` when given). */
  masquerade: z.boolean().default(true),
  snat: z.array(ipAddress()).max(2).optional(),
  /** Routing table id for this link (default routing.tableBase + index). */
  table: int(1, 0xfffffff0).optional(),
  initialState: z.enum(INITIAL_STATES).default('probing'),
  degraded: Degraded.default({ action: 'reduce', weight: 1 }),
  /** Without probes the link follows carrier and addresses only. */
  probe: Probe.optional(),
});

// ---------------------------------------------------------------------------------------------
// Multi-dial: one line dialled several times (src/dial/). Each session becomes a link NAME<i>.

export const DIAL_METHODS = ['dhcp', 'pppoe'] as const;
export const DIAL_MODES = ['sync', 'stagger'] as const;

/** A dial's name: an object name short enough for its interfaces (`wbm-NAME64`, 15 characters). */
const dialName = () =>
  scalar('a name of letters, digits, "-" or "_" starting with a letter, at most 9 characters (its sessions\' interfaces are wbm-NAME1..wbm-NAME64)', (v) =>
    typeof v === 'string' && /^[A-Za-z][A-Za-z0-9_-]{0,8}$/.test(v) ? v : undefined,
  );

/** `MIN..MAX`, two durations: the first redial wait and the longest. Milliseconds. */
const durationRange = () =>
  scalar<{ min: number; max: number }>('a range of durations like 5s..5m (first wait..longest wait)', (v) => {
    if (typeof v !== 'string') return undefined;
    const parts = v.split('..');
    if (parts.length !== 2) return undefined;
    const min = parseDuration(parts[0]!.trim());
    const max = parseDuration(parts[1]!.trim());
    return min !== undefined && max !== undefined && min > 0 && max >= min ? { min, max } : undefined;
  });

const DialPppoe = z.strictObject({
  username: z.string().min(1),
  /** File holding the password (one line); must not be readable by group or others. */
  passwordFile: z.string().min(1),
  /** MTU and MRU of each session. */
  mtu: int(576, 1500).default(1492),
});

const DialSchedule = z.strictObject({
  /** sync: dial every session at once; stagger: one every `stagger`. */
  mode: z.enum(DIAL_MODES).default('sync'),
  stagger: duration().default(200),
  /** Redial wait of a failed session: first..longest (doubling per failure in a row). */
  redial: durationRange().default({ min: 5000, max: 300_000 }),
});

/** The template every session's link takes (the fields of `links[]` that make sense per session). */
const DialLink = z.strictObject({
  weight: int(0, 1000).default(1),
  masquerade: z.boolean().default(true),
  initialState: z.enum(INITIAL_STATES).default('probing'),
  degraded: Degraded.default({ action: 'reduce', weight: 1 }),
  probe: Probe.optional(),
});

const Dial = z.strictObject({
  name: dialName(),
  /** The physical WAN port (or VLAN) the sessions' macvlans sit on. */
  parent: interfaceName(),
  sessions: int(1, 64),
  method: z.enum(DIAL_METHODS),
  pppoe: DialPppoe.optional(),
  dial: DialSchedule.default({ mode: 'sync', stagger: 200, redial: { min: 5000, max: 300_000 } }),
  link: DialLink.default({ weight: 1, masquerade: true, initialState: 'probing', degraded: { action: 'reduce', weight: 1 } }),
});

export const STICKY = ['none', 'source', 'source-dest'] as const;
export const LAST_RESORT = ['unreachable', 'blackhole', 'main'] as const;

const PolicyLink = z.preprocess(
  (v) => (typeof v === 'string' ? { link: v } : v),
  z.strictObject({
    link: objectName(),
    /** 1 is the best tier; a higher tier is used only when every link of the better ones is down. */
    tier: int(1, 16).default(1),
    /** Overrides the link's weight inside this policy. */
    weight: int(0, 1000).optional(),
  }),
);

/**
 * What a relay policy does with QUIC (UDP to port 443) that its rules match for TCP: `fallback`
 * rejects it at once (ICMP port unreachable), so an HTTP/3 client falls back to TCP, which the
 * relay stripes; `pass` leaves it alone (balanced per flow like any UDP).
 */
export const QUIC_MODES = ['fallback', 'pass'] as const;

/** `relay: NAME` is short for `relay: { entry: NAME }`. */
const PolicyRelay = z.preprocess(
  (v) => (typeof v === 'string' ? { entry: v } : v),
  z.strictObject({
    /** The transparent relay entry that takes the policy's TCP connections. */
    entry: objectName(),
    quic: z.enum(QUIC_MODES).default('fallback'),
  }),
);

const Policy = z.strictObject({
  links: z.array(PolicyLink).min(1).optional(),
  /** Hand matching TCP connections to this relay entry instead of balancing them per flow. */
  relay: PolicyRelay.optional(),
  /** none: each new flow is weighed on its own; source / source-dest: the same client (and server) keeps its link. */
  sticky: z.enum(STICKY).default('none'),
  /** When no link of the policy is online (default routing.lastResort). */
  lastResort: z.enum(LAST_RESORT).optional(),
});

export const PROTOCOLS = ['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'udplite', 'gre', 'esp'] as const;

/** A prefix, or `@name` naming a set of the `sets:` section. */
const AddrMatch = z.union([
  scalar<{ set: string }>('"@name" of a set', (v) => (typeof v === 'string' && /^@[A-Za-z][A-Za-z0-9_-]{0,30}$/.test(v) ? { set: v.slice(1) } : undefined)),
  prefix(),
]);

const addrMatchList = () =>
  z.preprocess(
    (v) => (typeof v === 'string' ? [v] : v),
    z.array(
      z.unknown().transform((v, ctx) => {
        const r = AddrMatch.safeParse(v);
        if (r.success) return r.data;
        ctx.addIssue({ code: 'custom', message: `expected a prefix like 198.18.0.0/15, an address, or "@set", got ${describeValue(v)}`, input: v });
        return z.NEVER;
      }),
    ).min(1),
  );

const portList = () => z.preprocess((v) => (typeof v === 'number' || typeof v === 'string' ? [v] : v), z.array(portRange()).min(1));

const Match = z.strictObject({
  family: z.enum(['ipv4', 'ipv6']).optional(),
  proto: z.enum(PROTOCOLS).optional(),
  src: addrMatchList().optional(),
  dst: addrMatchList().optional(),
  srcPort: portList().optional(),
  dstPort: portList().optional(),
  /** Input interfaces (default: any of lan.interfaces). */
  iif: z.array(interfaceName()).min(1).optional(),
});

const Rule = z.strictObject({
  name: objectName(),
  match: Match.default({}),
  policy: objectName(),
});

const NamedSet = z.strictObject({
  /** Prefixes or addresses, either family; changeable at runtime over the status socket. */
  elements: z.array(prefix()).default([]),
});

export const NEXTHOP_GROUP_TYPES = ['auto', 'resilient', 'multipath'] as const;

const Routing = z.strictObject({
  /** The policy behind the default route (the router's own traffic and whatever no nft rule marks). */
  defaultPolicy: objectName().optional(),
  lastResort: z.enum(LAST_RESORT).default('unreachable'),
  /** auto: a resilient nexthop group where the kernel has it, plain multipath otherwise. */
  groupType: z.enum(NEXTHOP_GROUP_TYPES).default('auto'),
  /** Resilient group: hash buckets (1-65535). */
  buckets: int(1, 65535).default(128),
  /** Resilient group: a bucket idle this long may move to an underweight nexthop. */
  idleTimer: duration().default(120_000),
  /** First routing table id; link i (from 1) uses tableBase + i unless it sets `table`. */
  tableBase: int(1, 0xfffff000).default(20100),
  /** First ip rule priority of the reserved range (128 priorities). */
  rulePriorityBase: int(1, 32000).default(20100),
  /** Bits of the packet and conntrack mark wanbraid uses for the link index. */
  markMask: z
    .union([int(1, 0xffffffff), z.string().regex(/^0x[0-9a-fA-F]{1,8}$/)])
    .transform((v) => (typeof v === 'string' ? Number.parseInt(v, 16) : v))
    .default(0x00ff0000),
  /** Flush a dead link's conntrack entries (by mark) so its connections fail fast. */
  flushConntrack: z.boolean().default(true),
  /**
   * After the flush, nudge each of the dead link's LAN TCP clients (one out-of-window ACK in its
   * server's name) so it answers now and draws a reset, instead of at its next retransmission.
   */
  resetDeadFlows: z.boolean().default(true),
  /** Warn when an online link with weight > 0 carried no new flow for this long while others did. */
  idleLinkWarning: duration().default(60_000),
  /** How often the kernel is checked against the plan and repaired (a deleted rule, a flushed ruleset); 0 = never. */
  verifyInterval: duration().default(10_000),
});

const PathSpec = z.strictObject({
  name: objectName().optional(),
  /** Leave through this link (its source address and table; unused while the link is offline). */
  link: objectName().optional(),
  /** Connect to this forwarding hop instead of the exit directly. */
  via: endpoint().optional(),
});

const RelayEntry = z.strictObject({
  name: objectName(),
  listen: endpoint(),
  /** Fixed target; absent for a transparent entry fed by a `relay` policy. */
  target: endpoint().optional(),
  exit: endpoint(),
  keyFile: z.string().min(1),
  /** The name the exit knows this entry's key by (its `relay.exit.keys[].name`); default the entry's `name`. */
  keyName: objectName().optional(),
  paths: z.array(PathSpec).min(1),
});

const AllowItem = scalar<{ prefix: Prefix; ports: PortRange | undefined }>(
  'an address or prefix with an optional port or range, like 198.19.0.10:5201, 198.19.0.0/24:80-443 or [2001:db8::/32]:443',
  (v) => {
    if (typeof v !== 'string') return undefined;
    let addrPart = v;
    let portPart: string | undefined;
    const bracket = /^\[([^\]]+)\](?::(.+))?$/.exec(v);
    if (bracket) {
      addrPart = bracket[1]!;
      portPart = bracket[2];
    } else if (!v.includes('::') && v.split(':').length === 2) {
      [addrPart, portPart] = v.split(':') as [string, string];
    }
    const p = parsePrefix(addrPart);
    if (!p) return undefined;
    if (portPart === undefined) return { prefix: p, ports: undefined };
    const r = parsePortRange(portPart);
    return r && r.from > 0 ? { prefix: p, ports: r } : undefined;
  },
);

const RelayExitKey = z.strictObject({
  /** The key name an entry sends (its `keyName`, by default its `name`). */
  name: objectName(),
  keyFile: z.string().min(1),
});

const RelayExit = z.strictObject({
  listen: endpoint(),
  /** One key per entry; removing one (reload) closes that entry's sessions and refuses it. */
  keys: z.array(RelayExitKey).min(1).optional(),
  /** Version-1 layout: one key every entry shares (any key name is accepted). Excludes `keys`. */
  keyFile: z.string().min(1).optional(),
  /** Targets the exit may connect to; nothing else (it is not an open proxy). */
  allow: z.array(AllowItem).min(1),
  /** Serve the test stream of `wanbraid speedtest` to entries that hold one of its keys (docs/relay-protocol.md §5). */
  speedtest: z.boolean().default(false),
});

const RelayTuning = z.strictObject({
  /** Payload bytes per data frame. */
  chunkSize: size().default(16 * 1024),
  /**
   * Smallest in-flight allowance per path: bytes written to a path and not yet acknowledged by the
   * far end before it stops taking chunks. The allowance grows above it to twice the path's
   * measured bandwidth-delay product.
   */
  pathQueue: size().default(64 * 1024),
  /** Per-flow reorder buffer (the flow's receive window); the sender is backpressured beyond it. */
  reorderBuffer: size().default(4 * 1024 * 1024),
  /** Unacknowledged bytes all flows of one entry–exit session may hold per direction; sources pause beyond it. */
  sessionBuffer: size().default(32 * 1024 * 1024),
  /** Path reconnect backoff, first and longest wait. */
  retryMin: duration().default(200),
  retryMax: duration().default(2000),
  /** A path that answers no keepalive for this long is declared dead. */
  pathTimeout: duration().default(1500),
  /** Limits against a key holder (docs/relay-protocol.md §8). Flows one session may have open at once (exit). */
  maxFlowsPerSession: int(1, 1_000_000).default(1024),
  /** Path connections one session may have at once (exit). */
  maxPathsPerSession: int(1, 65_536).default(64),
  /** Sessions (entry instances) one key may have at once (exit). */
  maxSessionsPerKey: int(1, 100_000).default(8),
  /** Connections in the handshake at once, in total and from one source (IPv4 address, IPv6 /64) (exit). */
  maxHandshakes: int(1, 1_000_000).default(128),
  maxHandshakesPerSource: int(1, 1_000_000).default(16),
});

const Relay = z.strictObject({
  entries: z.array(RelayEntry).default([]),
  exit: RelayExit.optional(),
  tuning: RelayTuning.default({
    chunkSize: 16 * 1024,
    pathQueue: 64 * 1024,
    reorderBuffer: 4 * 1024 * 1024,
    sessionBuffer: 32 * 1024 * 1024,
    retryMin: 200,
    retryMax: 2000,
    pathTimeout: 1500,
    maxFlowsPerSession: 1024,
    maxPathsPerSession: 64,
    maxSessionsPerKey: 8,
    maxHandshakes: 128,
    maxHandshakesPerSource: 16,
  }),
});

const Forward = z.strictObject({
  name: objectName().optional(),
  listen: endpoint(),
  to: endpoint(),
});

export const SCHEDULE_ACTIONS = ['down', 'up'] as const;

const Schedule = z.strictObject({
  name: objectName().optional(),
  /** Five or six field cron expression (node-cron), e.g. "0 2 * * *". */
  cron: z.string().min(1),
  link: objectName(),
  /** down: take the link out; up: force it in. */
  action: z.enum(SCHEDULE_ACTIONS),
  /** How long the override lasts; until the next `auto` when absent. */
  duration: duration().optional(),
  /** IANA time zone for the expression (default the system's). */
  timezone: z.string().min(1).optional(),
});

export const ConfigSchema = z.strictObject({
  log: Log.default({ level: 'info' }),
  status: Status.default({ socket: '/run/wanbraid/wanbraid.sock' }),
  metrics: Metrics.optional(),
  /** The read-only live dashboard (src/web); off when absent. */
  web: Web.optional(),
  hooks: Hooks.optional(),
  lan: Lan.optional(),
  links: z.array(Link).default([]),
  /** Lines dialled several times; their sessions are appended to `links` as NAME1..NAMEn (src/dial/expand.ts). */
  dials: z.array(Dial).default([]),
  policies: z.record(objectName(), Policy).default({}),
  rules: z.array(Rule).default([]),
  sets: z.record(objectName(), NamedSet).default({}),
  /** Destinations that bypass balancing and follow the main table. */
  bypass: z.array(prefix()).default([]),
  routing: Routing.default(Routing.parse({})),
  schedules: z.array(Schedule).default([]),
  relay: Relay.optional(),
  forwards: z.array(Forward).default([]),
});

export type Config = z.output<typeof ConfigSchema>;
export type LinkConfig = Config['links'][number];
export type ProbeConfig = NonNullable<LinkConfig['probe']>;
export type PolicyConfig = Config['policies'][string];
export type DialConfig = Config['dials'][number];
export type QuicMode = (typeof QUIC_MODES)[number];
export type RuleConfig = Config['rules'][number];
export type RoutingConfig = Config['routing'];
export type RelayConfig = NonNullable<Config['relay']>;
export type RelayEntryConfig = RelayConfig['entries'][number];
export type RelayExitConfig = NonNullable<RelayConfig['exit']>;
export type RelayTuningConfig = RelayConfig['tuning'];
export type WebConfig = NonNullable<Config['web']>;
export type ForwardConfig = Config['forwards'][number];
export type ScheduleConfig = Config['schedules'][number];
export type AllowRule = RelayExitConfig['allow'][number];
export type { Family };
