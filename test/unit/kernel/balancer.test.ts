import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from '../../../src/kernel/balancer.js';
import type { LanScope, RoutingBackend, RoutingDesired } from '../../../src/kernel/backend.js';
import { Nft, NftError, type CounterValue } from '../../../src/kernel/nft/nft.js';
import type { NftBatch, NftObject } from '../../../src/kernel/nft/json.js';
import type { ConntrackFlusher } from '../../../src/kernel/conntrack.js';
import { SysctlGuard } from '../../../src/kernel/sysctl.js';
import type { ReconcileReport } from '../../../src/kernel/reconcile-run.js';
import { silentLogger } from '../../../src/log.js';
import { threeLinks, views } from '../plan/fixtures.js';
import type { CtFlow } from '../../../src/kernel/tcp-nudge.js';
import { parsePrefix } from '../../../src/config/values.js';

class FakeNft extends Nft {
  batches: NftBatch[] = [];
  counterValues = new Map<string, CounterValue>();
  failNext: string | undefined;
  override async apply(b: NftBatch): Promise<void> {
    if (this.failNext) {
      const m = this.failNext;
      this.failNext = undefined;
      throw new NftError('batch', m, b.nftables.length);
    }
    this.batches.push(b);
  }
  counterReads = 0;
  override async counters(): Promise<Map<string, CounterValue>> {
    this.counterReads++;
    return new Map(this.counterValues);
  }
  /** What the kernel would list: the objects of the last table replace, unless a test sets one. */
  listing: NftObject[] | undefined;
  override async listTable(): Promise<NftObject[] | undefined> {
    if (this.listing) return this.listing;
    const replace = this.batches.findLast((b) => b.nftables.some((c) => 'delete' in c && 'table' in c.delete));
    if (!replace) return undefined;
    const cmds = replace.nftables.slice(replace.nftables.findIndex((c) => 'delete' in c) + 1);
    return cmds.flatMap((c) => ('add' in c ? [c.add] : []));
  }
}

class FakeConntrack implements ConntrackFlusher {
  flushed: string[] = [];
  async flushMark(value: number, mask: number): Promise<void> {
    this.flushed.push(`0x${value.toString(16)}/0x${mask.toString(16)}`);
  }
  close() {}
}

class FakeRouting implements RoutingBackend {
  calls: RoutingDesired[] = [];
  gate: Promise<void> | undefined;
  async reconcile(d: RoutingDesired, superseded?: () => boolean): Promise<ReconcileReport> {
    this.calls.push(d);
    if (this.gate) await this.gate;
    return { results: [], unchanged: d.routes.length, superseded: superseded?.() ?? false, skipped: 0 };
  }
  resilientGroups() {
    return true;
  }
  lanScope(interfaces: readonly string[]): Promise<LanScope> {
    // lan0 holds 198.18.100.1/24 and 2001:db8:100::1/64 in these tests.
    return Promise.resolve({
      local: ['198.18.100.1', '2001:db8:100::1'],
      lan: interfaces.includes('lan0') ? [parsePrefix('198.18.100.0/24')!, parsePrefix('2001:db8:100::/64')!] : [],
    });
  }
  close() {}
}

function setup() {
  const nft = new FakeNft();
  const conntrack = new FakeConntrack();
  const routing = new FakeRouting();
  const values: Record<string, string> = {
    'net.ipv4.fib_multipath_hash_policy': '0',
    'net.ipv6.fib_multipath_hash_policy': '0',
    'net.ipv4.conf.all.src_valid_mark': '0',
  };
  const sysctl = new SysctlGuard({ io: { read: async (k) => values[k]!, write: async (k, v) => void (values[k] = v) } });
  let clock = 1_000_000;
  const b = new Balancer({ logger: silentLogger(), routing, nft, conntrack, sysctl, now: () => clock, sampleIntervalMs: 0 });
  return { b, nft, conntrack, routing, values, tick: (ms: number) => (clock += ms) };
}

const kinds = (batch: NftBatch) => batch.nftables.map((c) => `${Object.keys(c)[0]} ${Object.keys(Object.values(c)[0] as object)[0]}`);

test('first apply installs the whole table, sets sysctls, reconciles routing and flushes links that are not usable', async () => {
  const { b, nft, conntrack, routing, values } = setup();
  const c = threeLinks();
  const r = await b.apply(c, views(c, { wan3: { state: 'offline' } }));
  assert.equal(r.ok, true, r.failures.join('; '));
  assert.equal(r.nft.op, 'replace-table');
  assert.deepEqual(kinds(nft.batches[0]!).slice(0, 3), ['add table', 'delete table', 'add table']);
  assert.equal(values['net.ipv4.fib_multipath_hash_policy'], '1');
  assert.equal(values['net.ipv6.fib_multipath_hash_policy'], '1');
  assert.equal(routing.calls.length, 1);
  assert.deepEqual(conntrack.flushed, ['0x30000/0xff0000'], 'a crash may have left entries of the offline link');
  assert.deepEqual(r.conntrack, [{ link: 'wan3', mark: 0x30000, ok: true }]);
});

test('a link going offline changes only map elements, the nexthop group, and flushes that link by mark', async () => {
  const { b, nft, conntrack, routing } = setup();
  const c = threeLinks({ policies: { p: { links: ['wan1', 'wan2'] } }, rules: [{ name: 'all', policy: 'p' }] });
  await b.apply(c, views(c));
  conntrack.flushed = [];
  const r = await b.apply(c, views(c, { wan2: { state: 'offline' } }));
  assert.equal(r.nft.op, 'elements');
  assert.deepEqual(r.nft.changed, ['pick_p_v4', 'pick_p_v6', 'pick__all_v4', 'pick__all_v6']);
  const batch = nft.batches[1]!;
  assert.ok(batch.nftables.every((cmd) => 'flush' in cmd || ('add' in cmd && 'element' in cmd.add)), 'only element commands');
  assert.deepEqual(conntrack.flushed, ['0x20000/0xff0000']);
  const group = routing.calls[1]!.nexthops.find((n) => n.kind === 'group' && n.family === 4);
  assert.ok(group && group.kind === 'group');
  assert.deepEqual(group.members.map((m) => m.id), [87_000_101, 87_000_103]);

  // Nothing changed: nothing to do in nft, nothing flushed.
  const same = await b.apply(c, views(c, { wan2: { state: 'offline' } }));
  assert.equal(same.nft.op, 'none');
  assert.deepEqual(conntrack.flushed, ['0x20000/0xff0000']);
  // Coming back: elements again, no flush (its flows elsewhere stay where they are).
  const back = await b.apply(c, views(c));
  assert.equal(back.nft.op, 'elements');
  assert.deepEqual(back.conntrack, []);
  // A weight change (reload) is elements only and flushes nothing.
  const c2 = threeLinks({ policies: { p: { links: [{ link: 'wan1', weight: 1 }, 'wan2'] } }, rules: [{ name: 'all', policy: 'p' }] });
  const w = await b.apply(c2, views(c2));
  assert.equal(w.nft.op, 'elements');
  assert.deepEqual(w.nft.changed, ['pick_p_v4', 'pick_p_v6']);
  assert.deepEqual(w.conntrack, []);
  // A new rule is structural: the table is replaced in one transaction.
  const c3 = threeLinks({ policies: { p: { links: ['wan1', 'wan2'] } }, rules: [{ name: 'ssh', match: { proto: 'tcp', dstPort: 22 }, policy: 'p' }, { name: 'all', policy: 'p' }] });
  assert.equal((await b.apply(c3, views(c3))).nft.op, 'replace-table');
});

test('a refused element batch is reported, the flush waits, and the next apply replaces the table', async () => {
  const { b, nft, conntrack } = setup();
  const c = threeLinks();
  await b.apply(c, views(c));
  conntrack.flushed = [];
  nft.failNext = 'Error: Could not process rule: No such file or directory';
  const r = await b.apply(c, views(c, { wan1: { state: 'offline' } }));
  assert.equal(r.ok, false);
  assert.match(r.failures.join('\n'), /nft elements: .*No such file/);
  assert.deepEqual(conntrack.flushed, [], 'no flush while the maps may still pick the link');
  const again = await b.apply(c, views(c, { wan1: { state: 'offline' } }));
  assert.equal(again.nft.op, 'replace-table');
  assert.deepEqual(conntrack.flushed, ['0x10000/0xff0000']);
});

test('runtime set changes: elements only, both families, validated; a reload keeps them unless the config changed that set', async () => {
  const { b, nft } = setup();
  const c = threeLinks({ sets: { cdn: { elements: ['198.19.0.0/24'] } } });
  await assert.rejects(b.setElements('cdn', 'add', ['198.19.1.0/24']), /not running yet/);
  await b.apply(c, views(c));
  const r = await b.setElements('cdn', 'add', ['198.19.1.0/24', '2001:db8:5::/48']);
  assert.deepEqual(r.elements, ['198.19.0.0/24', '198.19.1.0/24', '2001:db8:5::/48']);
  const last = nft.batches.at(-1)!;
  assert.deepEqual(
    last.nftables.map((cmd) => JSON.stringify(cmd)).filter((s) => s.includes('set_cdn')).length,
    4,
    'flush + add for v4 and v6',
  );
  assert.deepEqual((await b.setElements('bypass', 'add', ['198.19.9.9'])).elements, ['198.19.9.9/32']);
  assert.deepEqual((await b.setElements('cdn', 'delete', ['198.19.0.0/24'])).elements, ['198.19.1.0/24', '2001:db8:5::/48']);
  await assert.rejects(b.setElements('nope', 'add', ['198.19.0.1']), /unknown set "nope" \(known: bypass, cdn\)/);
  await assert.rejects(b.setElements('cdn', 'add', ['198.19.0']), /set cdn: "198.19.0" is not an address or prefix/);
  await assert.rejects(b.setElements('cdn', 'add', []), /needs at least one prefix/);
  // A reload with the same config keeps the runtime contents.
  await b.apply(c, views(c));
  assert.deepEqual(b.plan!.nft.sets.find((s) => s.name === 'set_cdn_v4')!.elements, [{ prefix: { addr: '198.19.1.0', len: 24 } }]);
  // A reload that edits the set's elements: the config wins.
  const c2 = threeLinks({ sets: { cdn: { elements: ['198.19.7.0/24'] } } });
  await b.apply(c2, views(c2));
  assert.deepEqual(b.plan!.nft.sets.find((s) => s.name === 'set_cdn_v4')!.elements, [{ prefix: { addr: '198.19.7.0', len: 24 } }]);
  assert.deepEqual((await b.setElements('cdn', 'flush', [])).elements, []);
});

test('latest wins: while one apply runs, an intermediate one is superseded', async () => {
  const { b, routing } = setup();
  const c = threeLinks();
  let open!: () => void;
  routing.gate = new Promise<void>((r) => (open = r));
  const p1 = b.apply(c, views(c));
  await new Promise((r) => setTimeout(r, 10));
  const p2 = b.apply(c, views(c, { wan1: { state: 'offline' } }));
  const p3 = b.apply(c, views(c, { wan2: { state: 'offline' } }));
  routing.gate = undefined;
  open();
  const [r1, r2, r3] = await Promise.all([p1, p2, p3]);
  assert.equal(r1.routing.superseded, true, 'the running one saw the newer state waiting');
  assert.equal(r2.superseded, true);
  assert.equal(r3.superseded, false);
  assert.equal(routing.calls.length, 2);
  assert.deepEqual(b.plan!.links.map((l) => l.state), ['online', 'offline', 'online']);
});

test('stop removes the table and every routing object and restores the sysctls', async () => {
  const { b, nft, routing, values } = setup();
  const c = threeLinks();
  await b.apply(c, views(c));
  const r = await b.stop();
  assert.deepEqual(r, { ok: true, failures: [] });
  assert.deepEqual(kinds(nft.batches.at(-1)!), ['add table', 'delete table']);
  assert.deepEqual(routing.calls.at(-1), { nexthops: [], routes: [], rules: [] });
  assert.deepEqual(values, { 'net.ipv4.fib_multipath_hash_policy': '0', 'net.ipv6.fib_multipath_hash_policy': '0', 'net.ipv4.conf.all.src_valid_mark': '0' });
  await assert.rejects(b.apply(c, views(c)), /after stop/);
});

test('status: shares from the counters, and the idle-link warning once an online link carried nothing while others did', async () => {
  const { b, nft, tick } = setup();
  const c = threeLinks({ routing: { idleLinkWarning: '60s' } });
  await b.apply(c, views(c));
  const set = (l: string, flows: number, bytes: number) => {
    nft.counterValues.set(`new_${l}`, { packets: flows, bytes: flows * 60 });
    nft.counterValues.set(`traffic_${l}`, { packets: bytes / 100, bytes });
  };
  set('wan1', 0, 0);
  set('wan2', 0, 0);
  set('wan3', 0, 0);
  await b.status();
  tick(30_000);
  set('wan1', 50, 3000);
  set('wan2', 30, 1000);
  let s = await b.status();
  assert.deepEqual(s.warnings, []);
  assert.equal(s.links[0]!.newFlowShare, 50 / 80);
  assert.equal(s.links[0]!.byteShare, 0.75);
  tick(31_000);
  set('wan1', 90, 6000);
  set('wan2', 60, 2000);
  s = await b.status();
  assert.equal(s.warnings.length, 1);
  assert.match(s.warnings[0]!, /^wan3 is online with weight 2 but carried no new flow for 61s while other links did$/);
  assert.equal(s.lastApply?.ok, true);
  assert.equal(s.links[0]!.newFlows, 90);
  assert.equal(s.links[0]!.bytes, 6000);
  assert.equal(s.links[2]!.newFlowShare, 0);
  // Offline links never warn.
  await b.apply(c, views(c, { wan3: { state: 'offline' } }));
  tick(61_000);
  set('wan1', 95, 6000);
  set('wan2', 65, 2000);
  assert.deepEqual((await b.status()).warnings, []);
});

test('verify: a missing nft table is installed again whole; routing is reconciled; nothing else changes', async () => {
  const { b, nft, routing } = setup();
  const c = threeLinks();
  await b.apply(c, views(c));
  const before = nft.batches.length;
  let r = await b.verify();
  assert.equal(r.nft.op, 'none', 'table present: nothing to do in nft');
  assert.equal(routing.calls.length, 2, 'routing reconciled against the kernel');
  const listTable = nft.listTable.bind(nft);
  nft.listTable = async () => undefined;
  r = await b.verify();
  assert.equal(r.nft.op, 'replace-table', 'a missing table is installed again');
  assert.equal(nft.batches.length, before + 1);
  nft.listTable = listTable;
  r = await b.verify();
  assert.equal(r.nft.op, 'none', 'the new table is the reference now');
});

test('verify: a changed nft table (a flushed chain) is installed again; element updates and counters are not drift', async () => {
  const { b, nft } = setup();
  const c = threeLinks();
  await b.apply(c, views(c));
  const installed = (await nft.listTable())!;
  // Counters count and health moves map elements: neither is drift.
  assert.equal((await b.apply(c, views(c, { wan2: { state: 'offline' } }))).nft.op, 'elements');
  nft.listing = installed.map((o) => ('counter' in o ? { counter: { ...o.counter, packets: 7, bytes: 700, handle: 9 } } : o));
  assert.equal((await b.verify()).nft.op, 'none');
  // Someone flushes a chain: every rule of it is gone; the table is installed again whole.
  const chain = installed.find((o): o is Extract<NftObject, { rule: unknown }> => 'rule' in o)!.rule.chain;
  nft.listing = installed.filter((o) => !('rule' in o && o.rule.chain === chain));
  const before = nft.batches.length;
  const r = await b.verify();
  assert.equal(r.nft.op, 'replace-table');
  assert.equal(nft.batches.length, before + 1);
});

test('a refresh (set change, verify) never replaces a newer apply still waiting with older views', async () => {
  const { b, routing } = setup();
  const c = threeLinks();
  await b.apply(c, views(c));
  let open!: () => void;
  routing.gate = new Promise((r) => (open = r));
  const running = b.apply(c, views(c)); // runs, held at the gate
  const newer = b.apply(c, views(c, { wan1: { state: 'offline' } })); // waits
  const refreshed = b.refresh(); // must carry the newer views, not the running apply's
  open();
  routing.gate = undefined;
  await running;
  assert.equal((await newer).superseded, true, 'the refresh came later with the same inputs');
  const r = await refreshed;
  assert.equal(r.superseded, false);
  assert.deepEqual(
    b.plan!.links.map((l) => `${l.name}:${l.state}`),
    ['wan1:offline', 'wan2:online', 'wan3:online'],
  );
});

test('nudges: the dead link\'s outbound LAN TCP clients get one each, from a dump taken before the flush; port forwards none', async () => {
  const { conntrack } = setup();
  const order: string[] = [];
  const flows = [
    { family: 4 as const, proto: 6, src: '198.18.100.2', dst: '198.19.0.10', sport: 40000, dport: 9000, tcpState: 3 },
    { family: 6 as const, proto: 6, src: '2001:db8:100::2', dst: '2001:db8:ffff::10', sport: 40001, dport: 9000, tcpState: 3 },
    { family: 4 as const, proto: 17, src: '198.18.100.2', dst: '198.19.0.10', sport: 5353, dport: 53 },
    // A port forward that came in through wan2 (an internet client to the router's wan2 address).
    { family: 4 as const, proto: 6, src: '198.19.0.20', dst: '198.18.2.1', sport: 50000, dport: 8080, tcpState: 3, reply: { src: '198.18.100.2', dst: '198.19.0.20', sport: 80, dport: 50000 } },
  ];
  Object.assign(conntrack, {
    dumpMark: async () => {
      order.push('dump');
      return flows;
    },
    // Every nudged flow shows its reset at the first check: nothing is nudged again.
    getFlow: async (f: CtFlow) => ({ ...f, tcpState: 8 }),
  });
  const flush = conntrack.flushMark.bind(conntrack);
  conntrack.flushMark = async (v, m) => {
    order.push('flush');
    return flush(v, m);
  };
  const sent: { family: number; mark: number; dst: string[] }[] = [];
  const b2 = new Balancer({
    logger: silentLogger(),
    routing: new FakeRouting(),
    nft: new FakeNft(),
    conntrack,
    sysctl: new SysctlGuard({ io: { read: async () => '1', write: async () => undefined } }),
    sampleIntervalMs: 0,
    sendRaw: (family, mark, packets) => {
      order.push('nudge');
      sent.push({ family, mark, dst: packets.map(([, d]) => d) });
      return packets.length;
    },
  });
  const c = { ...threeLinks(), lan: { interfaces: ['lan0'] } };
  await b2.apply(c, views(c));
  order.length = 0;
  const r = await b2.apply(c, views(c, { wan2: { state: 'offline' } }));
  assert.deepEqual(order, ['dump', 'flush', 'nudge', 'nudge']);
  assert.deepEqual(r.conntrack, [{ link: 'wan2', mark: 0x20000, ok: true, nudged: 2 }]);
  assert.deepEqual(sent, [
    { family: 4, mark: 0xff0000, dst: ['198.18.100.2'] },
    { family: 6, mark: 0xff0000, dst: ['2001:db8:100::2'] },
  ]);
  // Turned off: flushed, not nudged.
  order.length = 0;
  const off = { ...c, routing: { ...c.routing, resetDeadFlows: false } };
  await b2.apply(off, views(off));
  const r2 = await b2.apply(off, views(off, { wan3: { state: 'offline' } }));
  assert.deepEqual(order, ['flush']);
  assert.deepEqual(r2.conntrack, [{ link: 'wan3', mark: 0x30000, ok: true }]);
  await b2.stop();
});

test('set names are own keys only: "toString", "constructor" and "__proto__" are unknown sets and change nothing', async () => {
  const { b, nft } = setup();
  const c = threeLinks({ sets: { cdn: { elements: ['198.19.0.0/24'] } } });
  await b.apply(c, views(c));
  const batches = nft.batches.length;
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    await assert.rejects(b.setElements(name, 'add', ['198.19.0.1']), { code: 'WB_REQUEST_INVALID', message: `unknown set "${name}" (known: bypass, cdn)` });
    assert.throws(() => b.listSet(name), { code: 'WB_REQUEST_INVALID', message: `unknown set "${name}" (known: bypass, cdn)` });
  }
  assert.equal(nft.batches.length, batches, 'no nft batch for a refused set');
  // Positive control: a real set name goes through and reaches nft.
  await b.setElements('cdn', 'add', ['198.19.1.0/24']);
  assert.equal(nft.batches.length, batches + 1);
});

test('status: concurrent requests share one nft counter read, kept about a second; a new table reads again', async () => {
  const { b, nft, tick } = setup();
  const c = threeLinks();
  await b.apply(c, views(c));
  await Promise.all(Array.from({ length: 300 }, () => b.status()));
  assert.equal(nft.counterReads, 1, '300 concurrent status calls, one nft read');
  tick(500);
  await b.status();
  assert.equal(nft.counterReads, 1, 'kept within the second');
  tick(600);
  await b.status();
  assert.equal(nft.counterReads, 2, 'read again after it');
  // A structural change replaces the table (its counters restart): the kept reading is dropped.
  const c2 = threeLinks({ sets: { cdn: { elements: ['198.19.0.0/24'] } } });
  await b.apply(c2, views(c2));
  await b.status();
  assert.equal(nft.counterReads, 3);
});
