/**
 * The verbs every kind module shares, against a recording transport: which message type and
 * flags each sends (add = CREATE|EXCL, replace = CREATE|REPLACE, remove = DEL), what a nexthop
 * delete may carry (the kernel parses it strictly), and list filtering done in JS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RtnlTransport } from '../../../../src/kernel/rtnl/client.js';
import type { NlMessage } from '../../../../src/kernel/rtnl/netlink.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../../../../src/kernel/rtnl/netlink.js';
import {
  AF_INET,
  AF_INET6,
  RTM_DELADDR,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTM_NEWRULE,
  RTPROT_WANBRAID,
} from '../../../../src/kernel/rtnl/constants.js';
import * as route from '../../../../src/kernel/rtnl/route.js';
import * as rule from '../../../../src/kernel/rtnl/rule.js';
import * as nexthop from '../../../../src/kernel/rtnl/nexthop.js';
import * as address from '../../../../src/kernel/rtnl/address.js';
import { fixtures } from './fixtures.js';
import { messageOf } from './helpers.js';

interface Sent {
  kind: 'request' | 'dump';
  op: string;
  type: number;
  flags: number;
  payload: Buffer;
}

function recorder(dumpReply: (type: number, payload: Buffer) => NlMessage[] = () => []): RtnlTransport & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    request: async (op, type, flags, payload) => {
      sent.push({ kind: 'request', op, type, flags, payload });
      return [];
    },
    dump: async (op, type, payload) => {
      sent.push({ kind: 'dump', op, type, flags: 0, payload });
      return dumpReply(type, payload);
    },
  };
}

const r: route.Route = { family: 4, table: 20101, dst: '0.0.0.0', dstLen: 0, protocol: RTPROT_WANBRAID, scope: 0, type: 'unicast', gateway: '198.18.1.2', oif: 3 };

test('add, replace and remove send NEW with CREATE|EXCL, NEW with CREATE|REPLACE, and DEL', async () => {
  const nl = recorder();
  await route.add(nl, r);
  await route.replace(nl, r);
  await route.remove(nl, r);
  const ru: rule.Rule = { family: 4, priority: 1000, action: 'table', table: 20101, protocol: RTPROT_WANBRAID };
  await rule.add(nl, ru);
  await rule.remove(nl, ru);
  const a: address.Address = { family: 4, ifindex: 3, local: '198.18.1.1', prefixLen: 24, scope: 0, flags: 0 };
  await address.add(nl, a);
  await address.replace(nl, a);
  await address.remove(nl, a);
  const n: nexthop.Nexthop = { kind: 'single', id: 7, protocol: RTPROT_WANBRAID, family: 4, oif: 3, gateway: '198.18.1.2' };
  await nexthop.add(nl, n);
  await nexthop.replace(nl, n);
  assert.deepEqual(
    nl.sent.map((s) => [s.type, s.flags]),
    [
      [RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL],
      [RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE],
      [RTM_DELROUTE, 0],
      [RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL],
      [RTM_DELRULE, 0],
      [RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL],
      [RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE],
      [RTM_DELADDR, 0],
      [RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_EXCL],
      [RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_REPLACE],
    ],
  );
  assert.equal(nl.sent[0]!.op, 'route add default via 198.18.1.2 dev #3 table 20101 proto 87 metric 0');
});

test('a nexthop delete carries an all-zero header and NHA_ID only', async () => {
  const nl = recorder();
  await nexthop.remove(nl, { id: 0x01020304 });
  assert.equal(nl.sent[0]!.type, RTM_DELNEXTHOP);
  assert.equal(nl.sent[0]!.payload.toString('hex'), '0000000000000000' + '08000100' + '04030201');
});

test('route list dumps each family and filters table, protocol and type here', async () => {
  const nl = recorder((_type, payload) => {
    const hex = payload.readUInt8(0) === AF_INET ? fixtures.routes4 : payload.readUInt8(0) === AF_INET6 ? fixtures.routes6 : [];
    return hex.map(messageOf);
  });
  const all = await route.list(nl);
  assert.deepEqual(
    nl.sent.map((s) => [s.kind, s.type, s.payload.readUInt8(0)]),
    [
      ['dump', RTM_GETROUTE, AF_INET],
      ['dump', RTM_GETROUTE, AF_INET6],
    ],
  );
  assert.equal(all.length, fixtures.routes4.length + fixtures.routes6.length);
  const t = await route.list(nl, { family: 4, table: 20101 });
  assert.deepEqual(
    t.map((x) => x.dst),
    ['198.18.40.0', '198.18.41.0', '198.18.42.0', '198.18.43.0'],
  );
  assert.equal((await route.list(nl, { family: 6, type: 'unreachable' })).length, 1);
  assert.equal((await route.list(nl, { family: 4, protocol: 2 })).length, 0);
});

test('nexthop and rule lists filter by protocol', async () => {
  const nl = recorder((type) => (type === 106 ? fixtures.nexthops : fixtures.rules4).map(messageOf));
  assert.equal((await nexthop.list(nl, { protocol: RTPROT_WANBRAID })).length, fixtures.nexthops.length);
  assert.equal((await nexthop.list(nl, { protocol: 4 })).length, 0);
  assert.equal((await rule.list(nl, { family: 4, protocol: RTPROT_WANBRAID })).length, fixtures.rules4.length);
});
