/**
 * Captures real rtnetlink bytes for the unit tests' fixtures (not a test; needs root):
 *
 *   npm run build && node dist/test/lab/kernel/rtnl-capture.js > test/unit/kernel/rtnl/fixtures.ts
 *
 * In a namespace of its own it creates objects with `ip` (the commands are recorded next to the
 * bytes), dumps them through the adapter's raw dump, keeps the messages of interest, and prints a
 * TypeScript module. The kernel's error replies, with and without extended ack, come from a
 * python3 socket: the `netlink` package cannot set NETLINK_EXT_ACK, python can.
 *
 *   r: v0 (198.18.1.1/24, 2001:db8:1::1/64) ── veth ── v1 (in p, carrier for v0)
 */
import { NamespaceSet } from '../../../src/lab/netns.js';
import { Driver, opsModulePath } from '../harness/remote.js';
import { parseMessages } from '../../../src/kernel/rtnl/netlink.js';
import { AF_INET, AF_INET6, AF_UNSPEC, RTM_GETADDR, RTM_GETLINK, RTM_GETNEXTHOP, RTM_GETROUTE, RTM_GETRULE } from '../../../src/kernel/rtnl/constants.js';
import * as route from '../../../src/kernel/rtnl/route.js';
import * as rule from '../../../src/kernel/rtnl/rule.js';
import * as link from '../../../src/kernel/rtnl/link.js';
import * as address from '../../../src/kernel/rtnl/address.js';

const SETUP_R = [
  'link add v0 type veth peer name v1',
  'link set v0 up',
  'addr add 198.18.1.1/24 dev v0',
  'addr add 2001:db8:1::1/64 dev v0 nodad',
  'route add 198.18.40.0/24 via 198.18.1.2 dev v0 table 20101 proto 87 metric 5',
  'route add 198.18.41.0/24 table 20101 proto 87 nexthop via 198.18.1.2 dev v0 weight 3 nexthop via 198.18.1.3 dev v0 weight 1',
  'route add unreachable 198.18.42.0/24 table 20101 proto 87',
  'route add blackhole 198.18.43.0/24 table 20101 proto 87',
  'route add 198.18.44.0/24 dev v0 table 7 proto 87 src 198.18.1.1',
  'route add 2001:db8:40::/48 via 2001:db8:1::2 dev v0 table 20101 proto 87',
  'route add 2001:db8:41::/48 table 20101 proto 87 nexthop via 2001:db8:1::2 dev v0 weight 2 nexthop via 2001:db8:1::3 dev v0 weight 1',
  'route add unreachable 2001:db8:42::/48 table 20101 proto 87',
  'nexthop add id 1 via 198.18.1.2 dev v0 proto 87',
  'nexthop add id 2 via 198.18.1.3 dev v0 proto 87',
  'nexthop add id 3 dev v0 proto 87',
  'nexthop add id 4 blackhole proto 87',
  'nexthop add id 5 via 2001:db8:1::2 dev v0 proto 87',
  'nexthop add id 10 group 1,3/2,5 proto 87',
  'nexthop add id 11 group 1,3/2,5 type resilient buckets 32 idle_timer 3 unbalanced_timer 7 proto 87',
  'route add default nhid 11 table 20102 proto 87',
  'rule add priority 1000 fwmark 0x100/0xff00 lookup 20101 proto 87',
  'rule add priority 1001 from 198.18.1.0/24 lookup 20101 proto 87',
  'rule add priority 1002 lookup main suppress_prefixlength 0 proto 87',
  'rule add priority 1003 iif v0 to 198.18.50.0/24 unreachable proto 87',
  'rule add priority 1004 not fwmark 0x7 lookup 7 proto 87',
  '-6 rule add priority 1000 from 2001:db8:1::/64 lookup 20101 proto 87',
];

/** An RTM_NEWROUTE to 198.18.60.0/24 via an unreachable gateway, sent from python: prints the reply as hex. */
const PY_ROUTE_ERROR = `
import socket, struct, sys
ext_ack, oif = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
if ext_ack: s.setsockopt(270, 11, 1)
s.bind((0, 0))
def attr(t, v):
    n = 4 + len(v)
    return struct.pack('=HH', n, t) + v + b'\\0' * ((4 - n % 4) % 4)
body = struct.pack('=BBBBBBBBI', 2, 24, 0, 0, 0, 87, 0, 1, 0)
body += attr(15, struct.pack('=I', 20101)) + attr(1, socket.inet_aton('198.18.60.0'))
body += attr(5, socket.inet_aton('198.18.9.9')) + attr(4, struct.pack('=I', oif))
s.send(struct.pack('=IHHII', 16 + len(body), 24, 0x1 | 0x4 | 0x400 | 0x200, 7, 0) + body)
print(s.recv(65536).hex())
`;

function hdr(len: number, family: number): string {
  const b = Buffer.alloc(len);
  b.writeUInt8(family, 0);
  return b.toString('hex');
}

async function main(): Promise<void> {
  const set = await NamespaceSet.create(['r', 'p']);
  try {
    await set.ip('r', SETUP_R.slice(0, 1));
    await set.ip('r', [`link set v1 netns ${set.ns('p')}`]);
    await set.ip('p', ['link set v1 up']);
    // `ip -batch` keeps the address family of earlier lines, so `-6` lines run on their own.
    for (const line of SETUP_R.slice(1)) {
      if (line.startsWith('-6 ')) await set.exec('r', ['ip', ...line.split(' ')]);
      else await set.ip('r', [line]);
    }
    const d = await Driver.start(set, 'r', opsModulePath(import.meta.url, './rtnl-ops.js'));
    const dump = async (type: number, payloadHex: string, keep: (payload: Buffer) => boolean) => {
      const msgs = await d.call<string[]>('raw.dump', { type, payloadHex });
      return msgs.filter((h) => keep(parseMessages(Buffer.from(h, 'hex'))[0]!.payload));
    };
    const inTables = (p: Buffer) => [20101, 20102, 7].includes(route.decode(p).table);
    const v0 = (p: Buffer) => link.decode(p).name === 'v0';
    const oif = (await d.call<{ ifindex: number }>('link.get', { which: 'v0' })).ifindex;
    const onV0 = (p: Buffer) => address.decode(p).ifindex === oif && address.decode(p).scope === 0;
    const ours = (p: Buffer) => rule.decode(p).protocol === 87;
    const fixtures = {
      routes4: await dump(RTM_GETROUTE, hdr(12, AF_INET), inTables),
      routes6: await dump(RTM_GETROUTE, hdr(12, AF_INET6), inTables),
      rules4: await dump(RTM_GETRULE, hdr(12, AF_INET), ours),
      rules6: await dump(RTM_GETRULE, hdr(12, AF_INET6), ours),
      nexthops: await dump(RTM_GETNEXTHOP, hdr(8, AF_UNSPEC), () => true),
      links: await dump(RTM_GETLINK, hdr(16, AF_UNSPEC), v0),
      addresses: [...(await dump(RTM_GETADDR, hdr(8, AF_INET), onV0)), ...(await dump(RTM_GETADDR, hdr(8, AF_INET6), onV0))],
      routeErrorExtAck: [(await set.exec('r', ['python3', '-c', PY_ROUTE_ERROR, '1', String(oif)])).stdout.trim()],
      routeErrorPlain: [(await set.exec('r', ['python3', '-c', PY_ROUTE_ERROR, '0', String(oif)])).stdout.trim()],
    };
    await d.stop();
    const kernel = (await set.exec('r', ['uname', '-r'])).stdout.trim();
    const out = [
      '/**',
      ` * Real rtnetlink messages (headers included, hex), captured on Linux ${kernel} by`,
      ' * test/lab/kernel/rtnl-capture.ts (see there to regenerate). v0 has ifindex ' + String(oif) + '.',
      ' * Objects were created with these `ip` commands:',
      ...SETUP_R.map((l) => ` *   ip ${l}`),
      ' * routeError*: RTM_NEWROUTE 198.18.60.0/24 table 20101 via 198.18.9.9 dev v0, sent from python',
      ' * with and without NETLINK_EXT_ACK.',
      ' */',
      `export const V0_IFINDEX = ${oif};`,
      '',
      'export const fixtures = {',
      ...Object.entries(fixtures).map(([k, v]) => `  ${k}: [\n${v.map((h) => `    '${h}',`).join('\n')}\n  ],`),
      '};',
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    await set.destroy();
  }
}

await main();
