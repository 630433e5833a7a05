/**
 * HealthManager with the passive signal on fakes (fake rtnetlink, probers, clock and interface
 * counters): the counters are read only while a link is online, a busy link blackholed goes
 * offline with reason `traffic-silent`, the suspicion and its outcome are logged and emitted as
 * `passive` events, and status and metrics count them; a counter source that fails is logged
 * once a minute, not every 50 ms.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../src/config/load.js';
import { HealthManager, type PassiveNotice } from '../../../src/health/manager.js';
import type { InterfaceCounters, TrafficSource } from '../../../src/health/traffic.js';
import { formatMetrics } from '../../../src/status/metrics.js';
import { statusFields } from '../../../src/health/status.js';
import { captureLogger } from './capture-log.js';
import { FakeClock } from './fake-clock.js';
import { FakeKernel } from './fake-kernel.js';
import { FakeProbers } from './fake-prober.js';

const TARGETS = ['198.19.0.1', '198.19.0.2'];

/** Counters per ifindex as functions of time; every read recorded. */
class FakeTraffic implements TrafficSource {
  reads = 0;
  fail: Error | undefined;
  constructor(
    private readonly clock: FakeClock,
    readonly links: Map<number, (now: number) => InterfaceCounters>,
  ) {}
  async read(): Promise<Map<number, InterfaceCounters>> {
    this.reads++;
    if (this.fail) throw this.fail;
    return new Map([...this.links].map(([i, f]) => [i, f(this.clock.now())]));
  }
  async close(): Promise<void> {}
}

async function setup(passive = true) {
  const clock = new FakeClock();
  const kernel = new FakeKernel();
  kernel.link(11, 'wan1');
  kernel.addr(11, '198.18.1.1/24');
  kernel.link(12, 'wan2');
  kernel.addr(12, '198.18.2.1/24');
  const probers = new FakeProbers(clock);
  const dead = new Set<string>();
  probers.respond = (_t, src) => (dead.has(src.ipv4!) ? 'lost' : { rttMs: 2 });
  // wan1 carries a LAN flow (10 packets out and in per ms) until its upstream dies; wan2 is idle.
  const start = clock.now();
  let wan1DeadAt = Infinity;
  const probes = (src: string) => probers.made.filter((m) => m.source.ipv4 === src).reduce((n, m) => n + m.sent.length, 0);
  const traffic = new FakeTraffic(
    clock,
    new Map([
      [11, (now: number) => ({ txPackets: 10 * (now - start) + probes('198.18.1.1'), rxPackets: 10 * (Math.min(now, wan1DeadAt) - start) })],
      [12, () => ({ txPackets: probes('198.18.2.1'), rxPackets: 0 })],
    ]),
  );
  const cfg = validateConfig({
    links: [
      { name: 'wan1', interface: 'wan1', gateway: '198.18.1.254', probe: { targets: TARGETS, passive } },
      { name: 'wan2', interface: 'wan2', gateway: '198.18.2.254', probe: { targets: TARGETS, passive } },
    ],
  });
  const log = captureLogger('info');
  const m = new HealthManager({ logger: log.logger, config: cfg, kernel, createProber: probers.factory, clock, hooks: null, wallNow: () => clock.now(), traffic });
  const notices: PassiveNotice[] = [];
  m.on('passive', (n) => notices.push(n));
  await m.start();
  const blackhole = () => {
    dead.add('198.18.1.1');
    wan1DeadAt = clock.now();
  };
  return { clock, m, log, notices, traffic, blackhole };
}

test('a busy link blackholed: suspect, burst lost, offline with reason traffic-silent; logged, emitted, counted', async () => {
  const { clock, m, log, notices, traffic, blackhole } = await setup();
  assert.equal(traffic.reads, 0, 'nothing read while no link is online');
  await clock.until(() => m.view('wan1')!.state === 'online' && m.view('wan2')!.state === 'online', 5000);
  await clock.advance(2000);
  // wan1 carries traffic: a read every 100 ms (every 500 ms only while no link does).
  const before = traffic.reads;
  await clock.advance(1000);
  assert.ok(traffic.reads - before >= 9, `${traffic.reads - before} reads in 1 s while wan1 carries traffic`);
  assert.equal(notices.length, 0, 'a busy answered link is not suspect');
  const t0 = clock.now();
  blackhole();
  const took = await clock.until(() => m.view('wan1')!.state === 'offline', 3000);
  assert.ok(took < 500, `offline after ${took} ms`);
  assert.equal(clock.now() - t0, took);
  const v = m.view('wan1')!;
  assert.equal(v.reason.kind, 'traffic-silent');
  assert.deepEqual(notices.map((n) => [n.link, n.kind]), [
    ['wan1', 'suspect'],
    ['wan1', 'confirmed'],
  ]);
  assert.ok(log.find((l) => l.link === 'wan1' && l.op === 'passive' && l.phase === 'suspect'));
  const line = log.find((l) => l.link === 'wan1' && l.state === 'offline');
  assert.match(String(line?.msg), /^traffic silent for \d+ ms \(threshold 300 ms\), 6\/6 burst probes lost$/);
  const st = m.status().links.find((l) => l.name === 'wan1')!;
  assert.equal(st.passive.suspicions, 1);
  assert.equal(st.passive.confirmed, 1);
  assert.equal(st.passive.state, 'idle');
  assert.equal(st.passive.last?.outcome, 'confirmed');
  const fields = statusFields(st) as { passive: { suspicions: number; last: { at: string } } };
  assert.equal(fields.passive.suspicions, 1);
  assert.match(fields.passive.last.at, /^\d{4}-\d\d-\d\dT/);
  const text = formatMetrics(m.metrics());
  assert.match(text, /^wanbraid_link_suspicions_total\{link="wan1"\} 1$/m);
  assert.match(text, /^wanbraid_link_suspicions_confirmed_total\{link="wan1"\} 1$/m);
  assert.match(text, /^wanbraid_link_suspicions_cleared_total\{link="wan1"\} 0$/m);
  assert.match(text, /^wanbraid_link_suspicions_total\{link="wan2"\} 0$/m);
  assert.equal(m.view('wan2')!.state, 'online', 'the idle link is untouched');
  await m.stop();
});

test('passive: false: the same blackhole goes offline by the probe rounds, no suspicion, nothing read', async () => {
  const { clock, m, notices, traffic, blackhole } = await setup(false);
  await clock.until(() => m.view('wan1')!.state === 'online', 5000);
  await clock.advance(1000);
  blackhole();
  await clock.until(() => m.view('wan1')!.state === 'offline', 3000);
  assert.equal(m.view('wan1')!.reason.kind, 'probes-failed');
  assert.deepEqual(notices, []);
  assert.equal(traffic.reads, 0);
  assert.equal(m.status().links[0]!.passive.enabled, false);
  await m.stop();
});

test('a counter source that fails is logged once a minute, and probes still decide', async () => {
  const { clock, m, log, traffic } = await setup();
  traffic.fail = new Error('EPERM reading stats');
  await clock.until(() => m.view('wan1')!.state === 'online', 5000);
  await clock.advance(90_000);
  // Failed reads show no traffic: the idle rate, a read every 500 ms.
  assert.equal(traffic.reads <= 181, true, `a read every 500 ms, no more: ${traffic.reads}`);
  const lines = log.lines.filter((l) => l.op === 'passive' && l.err);
  assert.ok(traffic.reads > 150);
  assert.equal(lines.length, 2, `${lines.length} lines for ${traffic.reads} failed reads`);
  assert.equal(m.view('wan1')!.state, 'online');
  await m.stop();
});
