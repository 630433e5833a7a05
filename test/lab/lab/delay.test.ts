/**
 * The lab's delay element on the real kernel: the delay (ping RTT), the jitter (RTT spread), the
 * order (numbered UDP datagrams with jitter on arrive in order), the rate (tbf still shapes behind
 * it), per-direction settings, changes at run time, clear, and the relay hop where the traffic
 * ends in the hop itself.
 *
 *  client ── router ┬ wan1 ── isp1 [dlyup ⇄ element ⇄ dlydown] ┬── inet (198.19.0.1, .10)
 *                   └ wan2 ── isp2 (no delay) ─────────────────┘
 *
 *  relay:    entry ═ hop1 [element] ═ exit ── target
 *
 * The bounds are correctness bounds (the element's own cost is ~0.2 ms per round trip), not
 * performance figures: those are in bench/delay.bench.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, RelayLab } from '../../../src/lab/lab.js';
import { FAULT_TABLE } from '../../../src/lab/faults.js';
import type { Testbed } from '../../../src/lab/testbed.js';
import { sourceRouteLinks } from './helpers.js';

let lab: Lab;

before(async () => {
  lab = await Lab.up({ links: 2, rates: ['40mbit', '40mbit'] });
  await sourceRouteLinks(lab);
});

after(async () => {
  await lab?.down();
});

const wan1 = () => lab.addr.links[0]!;
const SERVER4 = '198.19.0.10';
const SERVER6 = '2001:db8:ffff::10';

/** RTTs (ms) of `count` pings, one every `intervalS`; every one must be answered. */
async function rtts(bed: Testbed<unknown>, node: string, src: string, dst: string, count = 20, intervalS = 0.05): Promise<number[]> {
  const r = await bed.exec(node, ['ping', '-n', '-c', String(count), '-i', String(intervalS), '-W', '2', '-I', src, dst], { allowFail: true });
  const times = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  assert.equal(times.length, count, `all ${count} pings ${src} → ${dst} answered:\n${r.stdout}`);
  return times;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The q-quantile (nearest rank) of the samples. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

test('delay: ping RTT through the link is down + up, median within 1 ms of the setting, never early; IPv6 alike', async () => {
  const plain = await rtts(lab, 'router', wan1().router4, SERVER4);
  assert.ok(median(plain) < 1, `without delay the path is fast (${median(plain)} ms)`);

  const st = await lab.delay('wan1', '20ms');
  assert.deepEqual(st?.delay, { down: { delayMs: 20, jitterMs: 0, stallMs: 0, stallEveryMs: 0 }, up: { delayMs: 20, jitterMs: 0, stallMs: 0, stallEveryMs: 0 } });
  for (const [src, dst] of [[wan1().router4, SERVER4], [wan1().router6, SERVER6]] as const) {
    const t = await rtts(lab, 'router', src, dst);
    assert.ok(Math.abs(median(t) - 40) <= 1, `median RTT ${median(t)} ms for a 40 ms setting (${src})`);
    assert.ok(Math.min(...t) >= 39.9, `no reply before the delay: min ${Math.min(...t)} ms`);
    // A reply can be late on a loaded machine (a scheduling hiccup), never early: the spread is
    // judged on the middle 80 %.
    assert.ok(quantile(t, 0.9) - quantile(t, 0.1) < 1, `without jitter the RTT is steady: ${t.join(' ')} ms`);
  }
  const wan2 = await rtts(lab, 'router', lab.addr.links[1]!.router4, SERVER4);
  assert.ok(median(wan2) < 1, 'the other link is untouched');
});

test('per direction: DOWN/UP apply to their own direction (a ping to the ISP itself crosses only the up delay)', async () => {
  await lab.delay('wan1', '10ms/30ms');
  const through = median(await rtts(lab, 'router', wan1().router4, SERVER4));
  const toIsp = median(await rtts(lab, 'router', wan1().router4, wan1().gateway4));
  const toIsp6 = median(await rtts(lab, 'router', wan1().router6, wan1().gateway6));
  assert.ok(Math.abs(through - 40) <= 1, `through the link: ${through} ms for 10 + 30`);
  assert.ok(Math.abs(toIsp - 30) <= 1, `to the ISP's own address: ${toIsp} ms, the up delay only`);
  assert.ok(Math.abs(toIsp6 - 30) <= 1, `IPv6 to the ISP's own address: ${toIsp6} ms (neighbour discovery bypasses the element)`);
  const st = await lab.delayState('wan1');
  assert.equal(st?.up.delay_us, 30_000);
  assert.equal(st?.down.delay_us, 10_000);
});

test('jitter: RTTs spread within the setting ± jitter (the same link without jitter is steady: see the delay test)', async () => {
  await lab.delay('wan1', '20ms±5ms');
  const t = await rtts(lab, 'router', wan1().router4, SERVER4, 60, 0.03);
  const lo = Math.min(...t);
  const hi = Math.max(...t);
  assert.ok(hi - lo > 5, `RTT spread ${(hi - lo).toFixed(2)} ms (${lo}..${hi}) shows the ±10 ms round-trip jitter`);
  assert.ok(lo >= 30 - 0.1, `no RTT below 40 - 10 ms: min ${lo}`);
  // Never early is exact; late can also be the machine, so the upper bound holds for 95 % of them.
  assert.ok(quantile(t, 0.95) <= 50 + 1, `RTTs within 40 + 10 ms (+1 ms for the path): p95 ${quantile(t, 0.95)}, max ${hi}`);
  assert.ok(Math.abs(median(t) - 40) <= 4, `the jitter is centred on the delay: median ${median(t)} ms`);
});

/** Numbered UDP datagrams: a receiver in inet counts those that arrive after a higher number. */
const RECEIVER = `
const d = require('node:dgram').createSocket('udp4');
let max = -1, received = 0, reorders = 0, timer;
d.on('message', (m) => {
  const n = m.readUInt32BE(0);
  received++;
  if (n < max) reorders++; else max = n;
  clearTimeout(timer);
  timer = setTimeout(() => { console.log(JSON.stringify({ received, reorders, max })); process.exit(0); }, 1500);
});
d.bind(9999, '${SERVER4}', () => console.log('ready'));
setTimeout(() => { console.log(JSON.stringify({ received, reorders, max })); process.exit(0); }, 30000);
`;

/** Sends COUNT datagrams of 1000 bytes, 3 every 2 ms (12 Mbit/s, below the 40mbit rate), alternating over the given sources. */
const SENDER = `
const [count, ...sources] = process.argv.slice(1);
const dgram = require('node:dgram');
const socks = sources.map((s) => { const d = dgram.createSocket('udp4'); d.bind(0, s); return d; });
let n = 0;
const t = setInterval(() => {
  for (let k = 0; k < 3 && n < Number(count); k++, n++) {
    const b = Buffer.alloc(1000); b.writeUInt32BE(n, 0);
    socks[n % socks.length].send(b, 9999, '${SERVER4}');
  }
  if (n >= Number(count)) { clearInterval(t); setTimeout(() => process.exit(0), 200); }
}, 2);
`;

async function udpOrder(sources: string[], count: number): Promise<{ received: number; reorders: number; max: number }> {
  const rx = lab.spawn('inet', [process.execPath, '-e', RECEIVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  rx.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 5000;
  while (!out.includes('ready')) {
    assert.ok(Date.now() < deadline, 'UDP receiver ready');
    await new Promise((r) => setTimeout(r, 20));
  }
  await lab.exec('router', [process.execPath, '-e', SENDER, String(count), ...sources]);
  await new Promise((r) => rx.once('exit', r));
  return JSON.parse(out.trim().split('\n').pop()!) as { received: number; reorders: number; max: number };
}

test('order: 3000 numbered datagrams through a jittering link arrive in order (control: split over two links, they do not)', async () => {
  await lab.delay('wan1', '20ms±10ms');
  const before = await lab.delayState('wan1');
  const r = await udpOrder([wan1().router4], 3000);
  const afterState = await lab.delayState('wan1');
  assert.equal(r.max, 2999, 'the last datagram arrived');
  assert.ok(r.received >= 2990, `received ${r.received} of 3000 (no loss is configured)`);
  assert.equal(r.reorders, 0, 'no datagram overtook another');
  assert.ok(afterState!.up.packets - before!.up.packets >= r.received, 'they went through the element');
  assert.equal(afterState!.up.drops, 0);

  const control = await udpOrder([wan1().router4, lab.addr.links[1]!.router4], 600);
  assert.ok(control.reorders > 50, `the receiver does see reordering when there is some: ${control.reorders} of ${control.received}`);
});

test('rate: tbf still shapes the link behind the element, both ways, and the element does not hold it back', async () => {
  await lab.delay('wan1', '10ms±2ms');
  for (const reverse of [false, true]) {
    const r = await lab.exec('router', ['iperf3', '-c', SERVER4, '-B', wan1().router4, '-p', '5201', '-t', '4', '-O', '1', '-J', ...(reverse ? ['-R'] : [])], { timeoutMs: 30_000 });
    const bps = (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
    // 40mbit of frames is at most ~38.2 Mbit/s of TCP goodput.
    assert.ok(bps <= 40e6, `${reverse ? 'down' : 'up'}: ${(bps / 1e6).toFixed(1)} Mbit/s is within the 40mbit rate`);
    assert.ok(bps >= 32e6, `${reverse ? 'down' : 'up'}: ${(bps / 1e6).toFixed(1)} Mbit/s is near it`);
  }
  const st = await lab.delayState('wan1');
  assert.equal(st!.up.drops + st!.down.drops, 0, 'the element dropped nothing');
});

test('changes at run time, then clear: back to no delay, element, tun devices and tc steering gone', async () => {
  await lab.delay('wan1', '5ms');
  const pid = (await lab.delayState('wan1'))!.pid;
  await lab.fault('wan1', { kind: 'delay', delay: { down: { delayMs: 25, jitterMs: 0, stallMs: 0, stallEveryMs: 0 }, up: { delayMs: 25, jitterMs: 0, stallMs: 0, stallEveryMs: 0 } } });
  assert.equal((await lab.delayState('wan1'))!.pid, pid, 'the same element, new settings');
  assert.ok(Math.abs(median(await rtts(lab, 'router', wan1().router4, SERVER4, 10)) - 50) <= 1);
  await lab.fault('wan1', { kind: 'loss', pct: 0 });
  await lab.fault('wan1', { kind: 'clear' });
  assert.equal(await lab.delayState('wan1'), null);
  assert.ok(!existsSync(join(lab.dir, 'delay-wan1.sock')));
  const links = (await lab.exec('isp1', ['ip', '-br', 'link'])).stdout;
  assert.doesNotMatch(links, /dly/, 'the tun devices went with the element');
  assert.doesNotMatch((await lab.exec('isp1', ['tc', 'qdisc', 'show'])).stdout, /clsact/);
  assert.equal((await lab.exec('isp1', ['nft', 'list', 'table', 'inet', FAULT_TABLE], { allowFail: true })).code, 1);
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return '';
    }
  })();
  assert.ok(stat === '' || /\) [ZX] /.test(stat), `the element process has exited: ${stat.slice(0, 60)}`);
  assert.ok(median(await rtts(lab, 'router', wan1().router4, SERVER4, 10)) < 1);
  await lab.fault('wan1', { kind: 'clear' }); // and again, with nothing to clear
});

test('profiles at lab up: lte gives its rates, delay with stalls, and 2% loss', async () => {
  const p = await Lab.up({ links: 2, profiles: ['lte'], delays: [undefined, '3ms/4ms'], services: false });
  try {
    const q = (await p.exec('isp1', ['tc', 'qdisc', 'show'])).stdout;
    assert.match(q, /qdisc tbf \S+ dev router root .*rate 30Mbit/);
    assert.match(q, /qdisc tbf \S+ dev inet root .*rate 10Mbit/);
    assert.match(q, /qdisc clsact \S+ dev router/);
    const st = await p.delayState('wan1');
    assert.deepEqual(st?.delay.up, { delayMs: 30, jitterMs: 10, stallMs: 200, stallEveryMs: 20_000 });
    assert.equal((await p.faultState('wan1')).lossPct, 2);
    assert.deepEqual((await p.delayState('wan2'))?.delay, { down: { delayMs: 3, jitterMs: 0, stallMs: 0, stallEveryMs: 0 }, up: { delayMs: 4, jitterMs: 0, stallMs: 0, stallEveryMs: 0 } });
    assert.deepEqual(p.profiles, ['lte', null]);
  } finally {
    await p.down();
  }
});

test('relay hop: traffic the hop forwards and traffic that ends in the hop are both delayed', async () => {
  const r = await RelayLab.up({ paths: 2, delays: ['5ms/15ms'], services: false });
  try {
    const p1 = r.addr.paths[0]!;
    // Through hop1 to the target: the entry has only connected routes, so add one for this test.
    await r.ip('entry', [`route add ${r.addr.relay.targetPrefix4} via ${p1.hop4}`, `route add ${r.addr.relay.targetPrefix6} via ${p1.hop6}`]);
    const through = median(await rtts(r, 'entry', p1.entry4, r.addr.relay.target4));
    const through6 = median(await rtts(r, 'entry', p1.entry6, r.addr.relay.target6));
    const toHop = median(await rtts(r, 'entry', p1.entry4, p1.hop4));
    const toExit = median(await rtts(r, 'exit', p1.exitHop4, p1.hopExit4));
    assert.ok(Math.abs(through - 20) <= 1, `entry → hop1 → target: ${through} ms for 5 + 15`);
    assert.ok(Math.abs(through6 - 20) <= 1, `IPv6: ${through6} ms`);
    assert.ok(Math.abs(toHop - 15) <= 1, `entry → hop1 itself: ${toHop} ms (up only; a relay forward in the hop sees this)`);
    assert.ok(Math.abs(toExit - 5) <= 1, `exit → hop1 itself: ${toExit} ms (down only)`);
    const path2 = median(await rtts(r, 'entry', r.addr.paths[1]!.entry4, r.addr.paths[1]!.hop4));
    assert.ok(path2 < 1, 'path2 has no delay');
  } finally {
    await r.down();
  }
});
