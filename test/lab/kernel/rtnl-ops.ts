/**
 * Operations of the rtnetlink adapter for the lab driver (test/lab/harness/driver.ts): each runs
 * inside the driver's namespace with one shared RtnlClient, and `monitor.start` streams decoded
 * events on the `event` stream (`overrun` and `error` streams for the rest). `raw.dump` returns
 * the kernel's messages as hex, for capturing unit-test fixtures.
 */
import type { OpContext } from '../harness/driver.js';
import {
  RtnlClient,
  RtnlMonitor,
  address,
  link,
  linkStats,
  nexthop,
  route,
  rule,
  type Address,
  type Nexthop,
  type Route,
  type RtnlGroup,
  type Rule,
} from '../../../src/kernel/rtnl/index.js';
import { encodeMessage } from '../../../src/kernel/rtnl/netlink.js';

let client: RtnlClient | undefined;
let monitor: RtnlMonitor | undefined;
const nl = () => (client ??= RtnlClient.open());

export const ops = {
  'link.list': () => link.list(nl()),
  'link.get': ({ which }: { which: number | string }) => link.get(nl(), which),
  'linkStats.list': () => linkStats.list(nl()),
  'linkStats.listViaLink': () => linkStats.listViaLink(nl()),
  'address.list': (f: address.AddressFilter) => address.list(nl(), f),
  'address.add': (a: Address) => address.add(nl(), a),
  'address.replace': (a: Address) => address.replace(nl(), a),
  'address.remove': (a: Address) => address.remove(nl(), a),
  'route.list': (f: route.RouteFilter) => route.list(nl(), f),
  'route.add': (r: Route) => route.add(nl(), r),
  'route.replace': (r: Route) => route.replace(nl(), r),
  'route.remove': (r: Route) => route.remove(nl(), r),
  'rule.list': (f: rule.RuleFilter) => rule.list(nl(), f),
  'rule.add': (r: Rule) => rule.add(nl(), r),
  'rule.remove': (r: Rule) => rule.remove(nl(), r),
  'nexthop.list': (f: nexthop.NexthopFilter) => nexthop.list(nl(), f),
  'nexthop.get': ({ id }: { id: number }) => nexthop.get(nl(), id),
  'nexthop.add': (n: Nexthop) => nexthop.add(nl(), n),
  'nexthop.replace': (n: Nexthop) => nexthop.replace(nl(), n),
  'nexthop.remove': (n: { id: number }) => nexthop.remove(nl(), n),

  /**
   * Many route adds at once on the one client, with dumps of table `listTable` running between
   * them: proves that replies are matched per request while a multi-datagram dump is in flight.
   */
  'route.concurrent': async ({ routes, listTable }: { routes: Route[]; listTable: number }) => {
    const lists = [0, 1, 2].map(() => route.list(nl(), { family: 4, table: listTable }).then((l) => l.length));
    const adds = await Promise.allSettled(routes.map((r) => route.add(nl(), r)));
    return {
      adds: adds.map((r) => (r.status === 'fulfilled' ? 'ok' : String((r.reason as Error).message))),
      listed: await Promise.all(lists),
    };
  },

  'monitor.start': ({ groups }: { groups?: RtnlGroup[] }, ctx: OpContext) => {
    monitor?.close();
    monitor = RtnlMonitor.open({
      ...(groups ? { groups } : {}),
      onEvent: (ev) => ctx.emit('event', ev),
      onOverrun: () => ctx.emit('overrun', {}),
      onError: (e) => ctx.emit('error', { message: e.message }),
    });
    return true;
  },
  'monitor.stop': () => {
    monitor?.close();
    monitor = undefined;
    return true;
  },

  /** A dump of any message type: the reply messages (headers included) as hex. */
  'raw.dump': async ({ type, payloadHex }: { type: number; payloadHex: string }) => {
    const msgs = await nl().dump(`raw dump ${type}`, type, Buffer.from(payloadHex, 'hex'));
    return msgs.map((m) => encodeMessage(m).toString('hex'));
  },
};

export function close(): void {
  monitor?.close();
  client?.close();
}
