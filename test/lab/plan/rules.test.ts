/**
 * Rule matching, runtime set updates and bypass, in the multi-WAN lab:
 *
 *   client (extra sources .11, .12) ── lan0 ┐                 ┌ isp1 ─┐
 *                                     router (Balancer) wan1 ┤       │
 *                                                       wan2 ┤ isp2 ─┼── inet 198.19.0.10 (/ip on :80)
 *                                                       wan3 ┘ isp3 ─┘
 *
 * One single-link policy per link makes every match visible in the address the server sees.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BalancerLab, labConfig } from './harness.js';

let L: BalancerLab;
before(async () => {
  L = await BalancerLab.up({ links: 3 });
  await L.lab.ip('client', ['addr add 198.18.100.11/24 dev lan0', 'addr add 198.18.100.12/24 dev lan0']);
});
after(async () => {
  await L?.down();
});

const only = { via1: { links: ['wan1'] }, via2: { links: ['wan2'] }, via3: { links: ['wan3'] } };

async function linkOf(opts: { source?: string; v6?: boolean } = {}): Promise<string> {
  const { byLink, failures } = await L.census(6, { concurrency: 3, ...opts });
  assert.deepEqual(failures, []);
  const links = Object.keys(byLink);
  assert.equal(links.length, 1, `one link expected: ${JSON.stringify(byLink)}`);
  return links[0]!;
}

test('rules match in order on source, destination set, protocol and port, and family', async () => {
  const cfg = labConfig(L.addr, [1, 1, 1], {
    policies: only,
    sets: { servers: { elements: [] } },
    rules: [
      { name: 'from12', match: { src: '198.18.100.12/32' }, policy: 'via2' },
      { name: 'servers', match: { dst: '@servers' }, policy: 'via3' },
      { name: 'web6', match: { family: 'ipv6', proto: 'tcp', dstPort: 80 }, policy: 'via3' },
      { name: 'web', match: { proto: 'tcp', dstPort: [80, 443] }, policy: 'via1' },
      { name: 'rest', policy: 'via2' },
    ],
    routing: { defaultPolicy: 'via2' },
  });
  await L.applyOk(cfg);
  assert.equal(await linkOf(), 'wan1', 'tcp/80 → web');
  assert.equal(await linkOf({ source: '198.18.100.12' }), 'wan2', 'an earlier rule wins');
  assert.equal(await linkOf({ source: '198.18.100.11' }), 'wan1');
  assert.equal(await linkOf({ v6: true }), 'wan3', 'IPv6 flows match the family rule first');

  // Runtime set update: the server joins @servers (both families), then leaves again.
  await L.setElements('servers', 'add', [L.addr.inet.server4, `${L.addr.inet.server6}/128`]);
  assert.equal(await linkOf(), 'wan3');
  assert.equal(await linkOf({ v6: true }), 'wan3');
  const r = await L.apply(cfg);
  assert.equal(r.nft.op, 'none', 'a reload of the same config keeps the runtime set and changes nothing');
  assert.equal(await linkOf(), 'wan3');
  await L.setElements('servers', 'delete', [L.addr.inet.server4]);
  assert.equal(await linkOf(), 'wan1');
});

test('a relay policy redirects matching new LAN TCP connections to the relay entry\'s port', async () => {
  const listener = await L.listen('router', 7000);
  try {
    await L.applyOk(
      labConfig(L.addr, [1, 1, 1], {
        relay: { entries: [{ name: 'stripe', listen: '[::]:7000', exit: '198.19.0.20:7100', keyFile: '/nonexistent', paths: [{ link: 'wan1' }] }] },
        policies: { big: { relay: 'stripe' } },
        rules: [{ name: 'bulk', match: { proto: 'tcp', dstPort: 5201 }, policy: 'big' }],
      }),
    );
    const greet = (host: string, port: number, timeoutMs = 3000) => L.traffic<{ connected: boolean; greeting?: string; error?: string }>('greet', { host, port, timeoutMs });
    assert.deepEqual(await greet(L.addr.inet.server4, 5201), { done: true, connected: true, greeting: 'hello from listener' });
    assert.deepEqual(await greet(L.addr.inet.server6, 5201), { done: true, connected: true, greeting: 'hello from listener' });
    // Other ports are balanced as usual and reach the real server (the echo service says nothing first).
    assert.deepEqual(await greet(L.addr.inet.server4, L.addr.ports.hold, 300), { done: true, connected: true, error: 'timeout' });
  } finally {
    listener.kill();
  }
});

test('bypass destinations follow the main table; main keeps deciding what it routes specifically', async () => {
  // A foreign default route in main, as DHCP would install: via wan3.
  await L.lab.ip('router', [`route add default via ${L.addr.links[2]!.gateway4} dev wan3 proto dhcp`]);
  try {
    await L.applyOk(labConfig(L.addr, [1, 1, 1], { policies: only, rules: [{ name: 'all', policy: 'via1' }] }));
    assert.equal(await linkOf(), 'wan1');
    await L.setElements('bypass', 'add', ['198.19.0.0/24']);
    assert.equal(await linkOf(), 'wan3', 'bypassed: main default route');
    await L.setElements('bypass', 'flush', []);
    assert.equal(await linkOf(), 'wan1');
    // A specific route in main wins over the balancing (suppress_prefixlength 0), and the flow is
    // pinned as "main", not as a link's.
    await L.lab.ip('router', [`route add ${L.addr.inet.server4}/32 via ${L.addr.links[1]!.gateway4} dev wan2 proto static`]);
    const flows = async () => (await L.status()).links.map((l) => l.newFlows);
    const before = await flows();
    assert.equal(await linkOf(), 'wan2');
    assert.deepEqual(await flows(), before, 'flows main routes elsewhere are not counted on (or pinned to) a link');
  } finally {
    await L.lab.ip('router', ['route flush proto dhcp', 'route flush proto static']);
  }
});
