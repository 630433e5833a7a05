/**
 * Routes and rules through the rtnetlink adapter, checked against `ip -j`, on the real kernel.
 *
 *   r (adapter): v0 198.18.1.1/24 2001:db8:1::1/64 ── veth ── v1 (p)
 *                w0 198.18.2.1/24 2001:db8:2::1/64 ── veth ── w1 (p)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RTPROT_WANBRAID, RT_SCOPE_LINK, route, rule, type Route, type Rule } from '../../../src/kernel/rtnl/index.js';
import { RemoteError } from '../harness/remote.js';
import { pick } from '../harness/ip.js';
import { startRtnlLab, type RtnlLab } from './rtnl-lab.js';

const P = RTPROT_WANBRAID;
let lab: RtnlLab;

before(async () => {
  lab = await startRtnlLab();
});
after(async () => {
  await lab?.destroy();
});

const byDst = (a: { dst?: unknown }, b: { dst?: unknown }) => String(a.dst).localeCompare(String(b.dst));
const ROUTE_KEYS = ['type', 'dst', 'gateway', 'dev', 'protocol', 'metric', 'scope', 'prefsrc', 'nhid', 'nexthops'];

function kernelError(errno: string) {
  return (e: unknown) => {
    assert.ok(e instanceof RemoteError, String(e));
    assert.equal(e.name, 'KernelError');
    assert.equal(e.code, 'WB_KERNEL');
    assert.equal(e.errno, errno, e.message);
    return true;
  };
}

test('IPv4 routes we add (gateway, multipath with weights, reject types, default, table > 255) appear in ip -j as intended', async () => {
  const { d, v0, w0 } = lab;
  const u = { family: 4 as const, protocol: P, scope: 0, type: 'unicast' as const };
  const wanted: Route[] = [
    { ...u, table: 20101, dst: '0.0.0.0', dstLen: 0, gateway: '198.18.1.254', oif: v0 },
    { ...u, table: 20101, dst: '198.18.40.0', dstLen: 24, gateway: '198.18.1.2', oif: v0, metric: 5 },
    {
      ...u,
      table: 20101,
      dst: '198.18.41.0',
      dstLen: 24,
      multipath: [
        { gateway: '198.18.1.2', oif: v0, weight: 3 },
        { gateway: '198.18.2.2', oif: w0, weight: 1 },
      ],
    },
    { ...u, table: 20101, dst: '198.18.44.0', dstLen: 24, scope: RT_SCOPE_LINK, oif: w0, prefsrc: '198.18.2.1' },
    { ...u, table: 20101, dst: '198.18.42.0', dstLen: 24, type: 'unreachable' },
    { ...u, table: 20101, dst: '198.18.43.0', dstLen: 24, type: 'blackhole' },
    { ...u, table: 4_000_000_000, dst: '198.18.46.0', dstLen: 24, type: 'prohibit' },
  ];
  for (const r of wanted) await d.call('route.add', r);

  assert.deepEqual(pick(await lab.ipj('route', 'show', 'table', '20101'), ROUTE_KEYS).sort(byDst), [
    { dst: '198.18.40.0/24', gateway: '198.18.1.2', dev: 'v0', protocol: '87', metric: 5 },
    {
      dst: '198.18.41.0/24',
      protocol: '87',
      nexthops: [
        { gateway: '198.18.1.2', dev: 'v0', weight: 3, flags: [] },
        { gateway: '198.18.2.2', dev: 'w0', weight: 1, flags: [] },
      ],
    },
    { type: 'unreachable', dst: '198.18.42.0/24', protocol: '87' },
    { type: 'blackhole', dst: '198.18.43.0/24', protocol: '87' },
    { dst: '198.18.44.0/24', dev: 'w0', protocol: '87', scope: 'link', prefsrc: '198.18.2.1' },
    { dst: 'default', gateway: '198.18.1.254', dev: 'v0', protocol: '87' },
  ]);
  assert.deepEqual(pick(await lab.ipj('route', 'show', 'table', '4000000000'), ROUTE_KEYS), [{ type: 'prohibit', dst: '198.18.46.0/24', protocol: '87' }]);

  // Read back through the adapter: every route equals what was asked, nothing else is there.
  const got = [...(await d.call<Route[]>('route.list', { family: 4, table: 20101 })), ...(await d.call<Route[]>('route.list', { family: 4, table: 4_000_000_000 }))];
  assert.equal(got.length, wanted.length);
  for (const w of wanted) assert.ok(got.some((g) => route.equals(g, w)), `read back: ${route.describe(w)}`);
});

test('IPv6 routes (gateway, multipath, unreachable, metric) in a table > 255 appear in ip -6 -j as intended', async () => {
  const { d, v0, w0 } = lab;
  const u = { family: 6 as const, protocol: P, scope: 0, type: 'unicast' as const, table: 20102 };
  const wanted: Route[] = [
    { ...u, dst: '::', dstLen: 0, gateway: '2001:db8:1::fe', oif: v0 },
    { ...u, dst: '2001:db8:40::', dstLen: 48, gateway: 'fe80::1', oif: w0, metric: 100 },
    {
      ...u,
      dst: '2001:db8:41::',
      dstLen: 48,
      multipath: [
        { gateway: '2001:db8:1::2', oif: v0, weight: 2 },
        { gateway: '2001:db8:2::2', oif: w0, weight: 1 },
      ],
    },
    { ...u, dst: '2001:db8:42::', dstLen: 48, type: 'unreachable' },
  ];
  for (const r of wanted) await d.call('route.add', r);
  assert.deepEqual(pick(await lab.ipj('-6', 'route', 'show', 'table', '20102'), ['type', 'dst', 'gateway', 'dev', 'protocol', 'metric', 'nexthops']).sort(byDst), [
    { dst: '2001:db8:40::/48', gateway: 'fe80::1', dev: 'w0', protocol: '87', metric: 100 },
    {
      dst: '2001:db8:41::/48',
      protocol: '87',
      metric: 1024,
      nexthops: [
        { gateway: '2001:db8:1::2', dev: 'v0', weight: 2, flags: [] },
        { gateway: '2001:db8:2::2', dev: 'w0', weight: 1, flags: [] },
      ],
    },
    // IPv6 attaches reject routes to lo.
    { type: 'unreachable', dst: '2001:db8:42::/48', dev: 'lo', protocol: '87', metric: 1024 },
    { dst: 'default', gateway: '2001:db8:1::fe', dev: 'v0', protocol: '87', metric: 1024 },
  ]);
  const got = await d.call<Route[]>('route.list', { family: 6, table: 20102 });
  assert.equal(got.length, wanted.length);
  for (const w of wanted) assert.ok(got.some((g) => route.equals(g, w)), `read back: ${route.describe(w)}`);
});

test('routes created by ip decode to the objects we would have asked for', async () => {
  const { d, v0, w0 } = lab;
  await lab.ip('route', 'add', '198.18.50.0/24', 'via', '198.18.1.2', 'dev', 'v0', 'table', '20103', 'proto', '87', 'metric', '7');
  await lab.ip('route', 'add', '198.18.51.0/24', 'table', '20103', 'proto', '87', 'nexthop', 'via', '198.18.1.2', 'dev', 'v0', 'weight', '4', 'nexthop', 'dev', 'w0');
  await lab.ip('route', 'add', '198.18.52.0/24', 'dev', 'w0', 'table', '20103', 'proto', '87', 'src', '198.18.2.1');
  await lab.ip('route', 'add', 'throw', '198.18.53.0/24', 'table', '20103', 'proto', '87');
  await lab.ip('-6', 'route', 'add', '2001:db8:50::/48', 'via', '2001:db8:2::2', 'dev', 'w0', 'table', '20103', 'proto', '87');
  const u = { protocol: P, scope: 0, type: 'unicast' as const, table: 20103 };
  const asked: Route[] = [
    { ...u, family: 4, dst: '198.18.50.0', dstLen: 24, gateway: '198.18.1.2', oif: v0, metric: 7 },
    { ...u, family: 4, dst: '198.18.51.0', dstLen: 24, multipath: [{ gateway: '198.18.1.2', oif: v0, weight: 4 }, { oif: w0, weight: 1 }] },
    { ...u, family: 4, dst: '198.18.52.0', dstLen: 24, oif: w0, prefsrc: '198.18.2.1', scope: route.defaultScope({ family: 4, type: 'unicast' }) },
    { ...u, family: 4, dst: '198.18.53.0', dstLen: 24, type: 'throw' },
    { ...u, family: 6, dst: '2001:db8:50::', dstLen: 48, gateway: '2001:db8:2::2', oif: w0 },
  ];
  const got = await d.call<Route[]>('route.list', { table: 20103 });
  assert.equal(got.length, asked.length);
  for (const a of asked) assert.ok(got.some((g) => route.equals(g, a)), `decoded: ${route.describe(a)} in ${JSON.stringify(got)}`);
});

test('replace changes a route in place (gateway → multipath → nexthop-less types), delete removes it, errors carry the errno', async () => {
  const { d, v0, w0 } = lab;
  const r: Route = { family: 4, table: 20104, dst: '0.0.0.0', dstLen: 0, protocol: P, scope: 0, type: 'unicast', gateway: '198.18.1.2', oif: v0 };
  await d.call('route.add', r);
  await assert.rejects(d.call('route.add', r), kernelError('EEXIST'));
  const r2: Route = { ...r, gateway: undefined, oif: undefined, multipath: [{ gateway: '198.18.1.2', oif: v0, weight: 1 }, { gateway: '198.18.2.2', oif: w0, weight: 2 }] };
  assert.ok(route.canReplace(r, r2));
  await d.call('route.replace', r2);
  assert.deepEqual(pick(await lab.ipj('route', 'show', 'table', '20104'), ['dst', 'gateway', 'nexthops']), [
    {
      dst: 'default',
      nexthops: [
        { gateway: '198.18.1.2', dev: 'v0', weight: 1, flags: [] },
        { gateway: '198.18.2.2', dev: 'w0', weight: 2, flags: [] },
      ],
    },
  ]);
  const r3: Route = { family: 4, table: 20104, dst: '0.0.0.0', dstLen: 0, protocol: P, scope: 0, type: 'unreachable' };
  await d.call('route.replace', r3);
  assert.deepEqual(pick(await lab.ipj('route', 'show', 'table', '20104'), ['type', 'dst', 'protocol']), [{ type: 'unreachable', dst: 'default', protocol: '87' }]);
  await d.call('route.remove', r3);
  assert.deepEqual(await lab.ipj('route', 'show', 'table', '20104'), []);
  await assert.rejects(d.call('route.remove', r3), kernelError('ESRCH'));

  // IPv6 in place too.
  const v6: Route = { family: 6, table: 20104, dst: '2001:db8:60::', dstLen: 48, protocol: P, scope: 0, type: 'unicast', gateway: '2001:db8:1::2', oif: v0 };
  await d.call('route.add', v6);
  await d.call('route.replace', { ...v6, gateway: '2001:db8:2::2', oif: w0 });
  assert.deepEqual(pick(await lab.ipj('-6', 'route', 'show', 'table', '20104'), ['dst', 'gateway', 'dev']), [{ dst: '2001:db8:60::/48', gateway: '2001:db8:2::2', dev: 'w0' }]);
});

test('the kernel refuses a gateway it cannot reach, a missing nexthop id, a route outside its prefix: KernelError with errno', async () => {
  const { d, v0 } = lab;
  const base: Route = { family: 4, table: 20105, dst: '198.18.60.0', dstLen: 24, protocol: P, scope: 0, type: 'unicast' };
  await assert.rejects(d.call('route.add', { ...base, gateway: '198.18.9.9', oif: v0 }), kernelError('ENETUNREACH'));
  await assert.rejects(d.call('route.add', { ...base, nhid: 4242 }), kernelError('EINVAL'));
  await assert.rejects(d.call('route.add', { ...base, dst: '198.18.60.1', oif: v0, scope: RT_SCOPE_LINK }), kernelError('EINVAL'));
  // The op names what was asked, so the log line says which route failed.
  await assert.rejects(d.call('route.add', { ...base, gateway: '198.18.9.9', oif: v0 }), (e: unknown) => {
    assert.ok(e instanceof RemoteError);
    assert.equal(e.op, `route add 198.18.60.0/24 via 198.18.9.9 dev #${v0} table 20105 proto 87 metric 0`);
    assert.equal(e.message, `${e.op}: ENETUNREACH`);
    return true;
  });
  assert.deepEqual(await lab.ipj('route', 'show', 'table', '20105'), []);
});

test('rules with marks, prefixes, suppress_prefixlength, interfaces, reject actions and protocol appear in ip -j rule; delete; EEXIST; ENOENT', async () => {
  const { d } = lab;
  const wanted: Rule[] = [
    { family: 4, priority: 1000, action: 'table', table: 20101, protocol: P, fwmark: 0x100, fwmask: 0xff00 },
    { family: 4, priority: 1001, action: 'table', table: 20101, protocol: P, src: '198.18.1.0', srcLen: 24 },
    { family: 4, priority: 1002, action: 'table', table: 254, protocol: P, suppressPrefixlen: 0 },
    { family: 4, priority: 1003, action: 'unreachable', protocol: P, dst: '198.18.50.0', dstLen: 24, iifname: 'v0' },
    { family: 4, priority: 1004, action: 'blackhole', protocol: P, oifname: 'w0', fwmark: 0x7 },
    { family: 4, priority: 1005, action: 'table', table: 4_000_000_000, protocol: P, src: '198.18.1.1', srcLen: 32, invert: true },
    { family: 6, priority: 1000, action: 'table', table: 20101, protocol: P, src: '2001:db8:1::', srcLen: 64, fwmark: 0x200, fwmask: 0xff00 },
  ];
  for (const r of wanted) await d.call('rule.add', r);
  await assert.rejects(d.call('rule.add', wanted[0]), kernelError('EEXIST'));
  const KEYS = ['priority', 'not', 'src', 'srclen', 'dst', 'dstlen', 'iif', 'oif', 'fwmark', 'fwmask', 'table', 'action', 'suppress_prefixlen', 'protocol'];
  const ours4 = (await lab.ipj('rule', 'show')).filter((r) => r.protocol === '87');
  assert.deepEqual(pick(ours4, KEYS), [
    { priority: 1000, src: 'all', fwmark: '0x100', fwmask: '0xff00', table: '20101', protocol: '87' },
    { priority: 1001, src: '198.18.1.0', srclen: 24, table: '20101', protocol: '87' },
    { priority: 1002, src: 'all', table: 'main', suppress_prefixlen: 0, protocol: '87' },
    { priority: 1003, src: 'all', dst: '198.18.50.0', dstlen: 24, iif: 'v0', action: 'unreachable', protocol: '87' },
    { priority: 1004, src: 'all', oif: 'w0', fwmark: '0x7', action: 'blackhole', protocol: '87' },
    { priority: 1005, not: null, src: '198.18.1.1', table: '4000000000', protocol: '87' },
  ]);
  const ours6 = (await lab.ipj('-6', 'rule', 'show')).filter((r) => r.protocol === '87');
  assert.deepEqual(pick(ours6, KEYS), [{ priority: 1000, src: '2001:db8:1::', srclen: 64, fwmark: '0x200', fwmask: '0xff00', table: '20101', protocol: '87' }]);

  const got = await d.call<Rule[]>('rule.list', { protocol: P });
  assert.equal(got.length, wanted.length);
  for (const w of wanted) assert.ok(got.some((g) => rule.equals(g, w)), `read back: ${rule.describe(w)}`);

  for (const r of wanted) await d.call('rule.remove', r);
  assert.deepEqual(await d.call('rule.list', { protocol: P }), []);
  await assert.rejects(d.call('rule.remove', wanted[0]), kernelError('ENOENT'));
  // The kernel's own rules were never touched.
  assert.deepEqual(
    (await lab.ipj('rule', 'show')).map((r) => r.priority),
    [0, 32766, 32767],
  );
});
