/**
 * RtnlMonitor: event messages (real kernel bytes) become typed events in order; unmodelled
 * families and types are skipped; a malformed message goes to onError without stopping the rest;
 * ENOBUFS means lost events and calls onOverrun; the chosen multicast groups are joined.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtnlMonitor, decodeEvent, type RtnlEvent } from '../../../../src/kernel/rtnl/monitor.js';
import { encodeMessage } from '../../../../src/kernel/rtnl/netlink.js';
import {
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTM_NEWRULE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_LINK,
  RTNLGRP_NEXTHOP,
} from '../../../../src/kernel/rtnl/constants.js';
import { V0_IFINDEX, fixtures } from './fixtures.js';
import { FakeKernel, payloadOf } from './helpers.js';

const event = (type: number, payload: Buffer) => encodeMessage({ type, flags: 0, seq: 0, pid: 0, payload });

test('each kind of event message decodes to its typed event', () => {
  const m = (type: number, hex: string) => ({ type, flags: 0, seq: 0, pid: 0, payload: payloadOf(hex) });
  const link = decodeEvent(m(RTM_NEWLINK, fixtures.links[0]!));
  assert.ok(link?.kind === 'link' && link.op === 'new' && link.link.name === 'v0' && link.link.ifindex === V0_IFINDEX);
  const addr = decodeEvent(m(RTM_NEWADDR, fixtures.addresses[0]!));
  assert.ok(addr?.kind === 'address' && addr.address.local === '198.18.1.1');
  const route = decodeEvent(m(RTM_DELROUTE, fixtures.routes4[1]!));
  assert.ok(route?.kind === 'route' && route.op === 'del' && route.route.dst === '198.18.40.0');
  const rule = decodeEvent(m(RTM_NEWRULE, fixtures.rules4[0]!));
  assert.ok(rule?.kind === 'rule' && rule.rule.fwmark === 0x100);
  const nh = decodeEvent(m(RTM_DELNEXTHOP, fixtures.nexthops[6]!));
  assert.ok(nh?.kind === 'nexthop' && nh.op === 'del' && nh.nexthop.kind === 'group' && nh.nexthop.type === 'resilient');
});

test('bridge link messages, multicast-routing families and other message types are skipped', () => {
  const bridge = Buffer.from(payloadOf(fixtures.links[0]!));
  bridge.writeUInt8(7, 0); // AF_BRIDGE
  assert.equal(decodeEvent({ type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: bridge }), undefined);
  const ipmr = Buffer.from(payloadOf(fixtures.routes4[1]!));
  ipmr.writeUInt8(128, 0); // RTNL_FAMILY_IPMR
  assert.equal(decodeEvent({ type: RTM_NEWROUTE, flags: 0, seq: 0, pid: 0, payload: ipmr }), undefined);
  assert.equal(decodeEvent({ type: 28 /* RTM_NEWNEIGH */, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(12) }), undefined);
});

test('a monitor joins its groups, delivers events in order, reports bad messages and overruns', () => {
  const k = new FakeKernel();
  const events: RtnlEvent[] = [];
  const errors: Error[] = [];
  let overruns = 0;
  const mon = RtnlMonitor.open({
    groups: ['link', 'ipv4-address', 'nexthop'],
    socketFactory: k.factory,
    onEvent: (e) => events.push(e),
    onOverrun: () => overruns++,
    onError: (e) => errors.push(e),
  });
  assert.deepEqual(k.groups, [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_NEXTHOP]);
  // One datagram: a nexthop, a truncated nexthop (no NHA_ID), a link.
  k.deliver(
    Buffer.concat([
      event(RTM_NEWNEXTHOP, payloadOf(fixtures.nexthops[0]!)),
      event(RTM_NEWNEXTHOP, Buffer.alloc(8)),
      event(RTM_NEWLINK, payloadOf(fixtures.links[0]!)),
    ]),
  );
  assert.deepEqual(
    events.map((e) => e.kind),
    ['nexthop', 'link'],
  );
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /malformed nexthop/);
  k.fail('ENOBUFS');
  assert.equal(overruns, 1);
  mon.close();
  assert.ok(k.closed);
});

test('by default a monitor joins all eight groups', () => {
  const k = new FakeKernel();
  const mon = RtnlMonitor.open({ socketFactory: k.factory, onEvent: () => undefined, onOverrun: () => undefined });
  assert.deepEqual([...k.groups].sort((a, b) => a - b), [1, 5, 7, 8, 9, 11, 19, 32]);
  mon.close();
});
