/**
 * Coexistence and lifecycle, in the multi-WAN lab's router:
 *
 *   client ── lan0 ┐                      ┌ isp1 ─┐
 *                  router (Balancer) wan1 ┤       │       planted first in the router: a route in
 *                                    wan2 ┤ isp2 ─┼── inet   wanbraid's own link table, a route in
 *                                    wan3 ┘ isp3 ─┘          main, rules inside the reserved priority
 *                                                             range, a nexthop, an nft table with a
 *                                                             port forward (DNAT to the client)
 *
 * Foreign objects are untouched through start, failover, reload and stop; a stop leaves rules,
 * routes, nexthops, the nft ruleset and the sysctls exactly as before start; port-forward replies
 * leave through the link the connection arrived on; after kill -9 a new run adopts what is there
 * and still stops clean.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BalancerLab, labConfig } from './harness.js';

let L: BalancerLab;
let S0: Record<string, string>;

const FOREIGN_NFT = `table inet portfwd {
  chain pre {
    type nat hook prerouting priority dstnat; policy accept;
    iifname { "wan1", "wan2", "wan3" } tcp dport 8080 dnat ip to 198.18.100.2:8080
  }
  counter seen { }
}
`;

before(async () => {
  L = await BalancerLab.up({ links: 3 });
  await L.lab.ip('router', [
    'route add 198.19.200.0/24 via 198.18.1.254 dev wan1 table 20101 proto static',
    'route add 198.19.201.0/24 via 198.18.2.254 dev wan2 proto static',
    'rule add pref 20150 from 198.18.100.99 lookup 100 proto static',
    'nexthop add id 500 via 198.18.1.254 dev wan1 proto static',
  ]);
  await L.lab.exec('router', ['ip', '-6', 'rule', 'add', 'pref', '20150', 'from', '2001:db8:100::99', 'lookup', '100', 'proto', 'static']);
  await L.lab.exec('router', ['nft', '-f', '-'], { input: FOREIGN_NFT });
  S0 = await L.snapshot();
});
after(async () => {
  await L?.down();
});

const FOREIGN = [
  ['routes4', '198.19.200.0/24 via 198.18.1.254 dev wan1 table 20101 proto static'],
  ['routes4', '198.19.201.0/24 via 198.18.2.254 dev wan2 proto static'],
  ['rules4', '20150:\tfrom 198.18.100.99 lookup 100 proto static'],
  ['rules6', '20150:\tfrom 2001:db8:100::99 lookup 100 proto static'],
  ['nexthops', 'id 500 via 198.18.1.254 dev wan1 scope link proto static'],
] as const;

async function assertForeignIntact(when: string): Promise<void> {
  const s = await L.snapshot();
  for (const [k, line] of FOREIGN) assert.ok(s[k]!.includes(line), `${when}: foreign ${k} "${line}" missing:\n${s[k]}`);
  assert.ok(s.nft!.includes('iifname { "wan1", "wan2", "wan3" } tcp dport 8080 dnat ip to 198.18.100.2:8080'), `${when}: foreign DNAT rule changed:\n${s.nft}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const cfg = (w: number[], extra: Record<string, unknown> = {}) =>
  labConfig(L.addr, w, { policies: { first: { links: [{ link: 'wan1', tier: 1 }, { link: 'wan2', tier: 2 }, { link: 'wan3', tier: 2 }] } }, routing: { defaultPolicy: 'first' }, ...extra });

test('foreign state survives start, failover, reload and stop; stop restores everything', async () => {
  await L.applyOk(cfg([1, 1, 1]));
  await assertForeignIntact('after start');
  await L.applyOk(cfg([1, 1, 1]), { wan1: 'offline' });
  await assertForeignIntact('after failover');
  await L.applyOk(cfg([3, 1, 1], { rules: [{ name: 'ssh', match: { proto: 'tcp', dstPort: 22 }, policy: 'first' }] }), { wan1: 'offline' });
  await assertForeignIntact('after reload');
  assert.deepEqual(await L.stop(), { ok: true, failures: [] });
  assert.deepEqual(await L.snapshot(), S0);
});

test('port-forward replies leave through the link the connection came in on', async () => {
  await L.startDriver();
  const listener = await L.listen('client', 8080);
  try {
    // Every new flow of the router would go out wan1 (tier 1): the replies must not.
    await L.applyOk(cfg([1, 1, 1]));
    // A probe table records the interfaces the replies (tcp sport 8080) leave on.
    await L.lab.exec('router', ['nft', '-f', '-'], {
      input: 'add table inet pfprobe\nadd set inet pfprobe out { type ifname; flags dynamic; }\nadd chain inet pfprobe post { type filter hook postrouting priority 0; policy accept; }\nadd rule inet pfprobe post tcp sport 8080 add @out { oifname }\n',
    });
    const seen = async (): Promise<string[]> => {
      const r = await L.lab.exec('router', ['nft', '-j', 'list', 'set', 'inet', 'pfprobe', 'out']);
      const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: string[] } }[] };
      return doc.nftables.flatMap((o) => o.set?.elem ?? []).sort();
    };
    try {
      for (const via of ['wan2', 'wan3']) {
        const link = L.addr.links.find((l) => l.name === via)!;
        await L.lab.exec('router', ['nft', 'flush', 'set', 'inet', 'pfprobe', 'out']);
        for (let i = 0; i < 3; i++) {
          const g = await L.traffic<{ greeting?: string; error?: string }>('greet', { host: link.router4, port: 8080 }, { node: 'inet' });
          assert.equal(g.greeting, 'hello from listener', `${via}: ${JSON.stringify(g)}`);
        }
        assert.deepEqual(await seen(), [via], `the replies left through ${via} only`);
        const ct = await L.lab.exec('router', ['conntrack', '-L', '-p', 'tcp', '--dport', '8080', '--orig-dst', link.router4], { allowFail: true });
        const marks = [...ct.stdout.matchAll(/mark=(\d+)/g)].map((m) => (Number(m[1]) >>> 16) & 0xff);
        assert.ok(marks.length > 0 && marks.every((m) => m === link.index), `conntrack pins them to ${via}: ${JSON.stringify(marks)}`);
      }
    } finally {
      await L.lab.exec('router', ['nft', 'delete', 'table', 'inet', 'pfprobe']);
    }
  } finally {
    listener.kill();
  }
  assert.equal((await L.stop()).ok, true);
  assert.deepEqual(await L.snapshot(), S0);
});

test('after kill -9 a new run adopts what is there, and still stops clean', async () => {
  const pid = await L.startDriver();
  await L.applyOk(cfg([1, 1, 1]), { wan3: 'offline' });
  const S1 = await L.snapshot();
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 250 && alive(pid); i++) await sleep(20);
  assert.equal(alive(pid), false);
  assert.deepEqual(await L.snapshot(), S1, 'the crash leaves the kernel state as it was');

  await L.startDriver();
  const r = await L.applyOk(cfg([1, 1, 1]), { wan3: 'offline' });
  assert.deepEqual(r.routing.changed, [], 'every route, rule and nexthop adopted as it was');
  assert.equal(r.nft.op, 'replace-table', 'the table is replaced in one transaction');
  assert.deepEqual(await L.snapshot(), S1);
  await L.applyOk(cfg([2, 1, 1], { rules: [{ name: 'ssh', match: { proto: 'tcp', dstPort: 22 }, policy: 'first' }] }));
  assert.deepEqual(await L.stop(), { ok: true, failures: [] });
  assert.deepEqual(await L.snapshot(), S0, 'sysctls too: the originals survived the crash in the state file');
});
