/**
 * HealthManager end to end on fakes: a fake rtnetlink source, fake probers and a fake clock.
 * Start-up from the kernel's state, detection in fake time, carrier events, re-sourcing on an
 * address change, gateway learning, overrides, schedules, reload, status, metrics, logs and hooks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { HealthManager } from '../../../src/health/manager.js';
import type { ScheduleDriver, ScheduleSpec } from '../../../src/health/schedules.js';
import type { LinkView } from '../../../src/model.js';
import type { HookEvent, HookSink } from '../../../src/status/hooks.js';
import { formatMetrics } from '../../../src/status/metrics.js';
import { WanbraidError } from '../../../src/errors.js';
import { captureLogger } from './capture-log.js';
import { FakeClock } from './fake-clock.js';
import { FakeKernel } from './fake-kernel.js';
import { FakeProbers } from './fake-prober.js';

const TARGETS = ['198.19.0.1', '198.19.0.2'];

function config(extra: Record<string, unknown> = {}, links?: unknown[]): Config {
  return validateConfig({
    links: links ?? [
      { name: 'wan1', interface: 'wan1', gateway: '198.18.1.254', weight: 5, probe: { targets: TARGETS } },
      { name: 'wan2', interface: 'wan2', weight: 3, probe: { targets: TARGETS } },
    ],
    ...extra,
  });
}

class FakeSchedules implements ScheduleDriver {
  specs: readonly ScheduleSpec[] = [];
  onFire: ((s: ScheduleSpec) => void) | undefined;
  lastFires = new Map<string, number>();
  arm(specs: readonly ScheduleSpec[], onFire: (s: ScheduleSpec) => void): void {
    this.specs = specs;
    this.onFire = onFire;
  }
  disarm(): void {
    this.specs = [];
  }
  nextRun(name: string): number | undefined {
    return this.specs.some((s) => s.name === name) ? Date.UTC(2024, 0, 11, 2, 0, 0) : undefined;
  }
  lastFire(spec: ScheduleSpec): number | undefined {
    return this.lastFires.get(spec.name);
  }
  fire(name: string): void {
    this.onFire!(this.specs.find((s) => s.name === name)!);
  }
}

class RecordingHooks implements HookSink {
  events: HookEvent[] = [];
  async run(ev: HookEvent): Promise<void> {
    this.events.push(ev);
  }
  async idle(): Promise<void> {}
}

async function setup(cfg: Config = config(), prepare: (k: FakeKernel) => void = defaultKernel) {
  const clock = new FakeClock();
  const kernel = new FakeKernel();
  prepare(kernel);
  const probers = new FakeProbers(clock);
  const log = captureLogger('info');
  const schedules = new FakeSchedules();
  const hooks = new RecordingHooks();
  const m = new HealthManager({ logger: log.logger, config: cfg, kernel, createProber: probers.factory, clock, schedules, hooks, wallNow: () => clock.now(), ownRouteProtocol: 250 });
  const changes: { view: LinkView; prev: LinkView | undefined }[] = [];
  m.on('change', (view, prev) => changes.push({ view, prev }));
  await m.start();
  const state = (l: string) => m.view(l)!.state;
  return { clock, kernel, probers, log, schedules, hooks, m, changes, state };
}

function defaultKernel(k: FakeKernel): void {
  k.link(11, 'wan1');
  k.addr(11, '198.18.1.1/24');
  k.link(12, 'wan2');
  k.addr(12, '198.18.2.1/24');
  k.route({ oif: 12, gateway: '198.18.2.254', priority: 1024 });
}

test('start: views from the kernel, probing, online after three good rounds; one log line and event per change', async () => {
  const { m, clock, changes, log, probers, state } = await setup();
  assert.deepEqual(m.views().map((v) => [v.name, v.state, v.reason.kind]), [
    ['wan1', 'probing', 'initial'],
    ['wan2', 'probing', 'initial'],
  ]);
  assert.deepEqual(probers.live().map((p) => p.source), [{ ipv4: '198.18.1.1' }, { ipv4: '198.18.2.1' }]);
  assert.equal(changes.length, 2);
  assert.equal(changes[0]!.prev, undefined);
  const took = await clock.until(() => state('wan1') === 'online' && state('wan2') === 'online', 5000);
  assert.equal(took, 1002, 'rounds at 0, 500, 1000; the third answered after 2 ms');
  const v = m.view('wan1')!;
  assert.equal(v.weight, 5);
  assert.deepEqual(v.reason, { kind: 'probes-ok', rounds: 3, threshold: 3 });
  assert.deepEqual(v.observation.ipv4, { address: '198.18.1.1', prefixLen: 24, gateway: '198.18.1.254', gatewaySource: 'config' });
  assert.deepEqual(m.view('wan2')!.observation.ipv4?.gateway, '198.18.2.254', 'learned from the main table');
  const line = log.find((l) => l.link === 'wan1' && l.state === 'online');
  assert.ok(line);
  assert.equal(line.prev, 'probing');
  assert.deepEqual(line.reason, { kind: 'probes-ok', rounds: 3, threshold: 3 });
  assert.equal(line.msg, '3 probe rounds answered (up after 3)');
  const ev = changes.find((c) => c.view.name === 'wan1' && c.view.state === 'online')!;
  assert.equal(ev.prev?.state, 'probing');
  await m.stop();
  assert.equal(clock.pending(), 0, 'no timers left');
  assert.equal(probers.live().length, 0, 'probers closed');
});

test('blackhole on one link: offline within interval·down + retry + deadline, the other untouched; hooks get the change', async () => {
  const { m, clock, probers, hooks, state } = await setup();
  await clock.advance(3000);
  probers.respond = (_t, src) => (src.ipv4 === '198.18.1.1' ? 'lost' : { rttMs: 2 });
  const took = await clock.until(() => state('wan1') === 'offline', 5000);
  assert.ok(took > 1000 && took <= 1620, `offline after ${took} ms`);
  const r = m.view('wan1')!.reason;
  assert.equal(r.kind, 'probes-failed');
  assert.equal(state('wan2'), 'online');
  assert.equal(m.view('wan1')!.weight, 0);
  const h = hooks.events.find((e) => e.link === 'wan1' && e.state === 'offline')!;
  assert.deepEqual([h.device, h.prev, h.reason], ['wan1', 'online', 'probes-failed']);
  probers.respond = () => ({ rttMs: 2 });
  await clock.until(() => state('wan1') === 'online', 3000);
  await m.stop();
});

test('carrier loss: offline at once, probes stop; carrier back: probing at once, online after three rounds', async () => {
  const { m, clock, kernel, probers, state } = await setup();
  await clock.advance(3000);
  const t = clock.now();
  kernel.link(11, 'wan1', { lowerUp: false });
  assert.equal(state('wan1'), 'offline');
  assert.equal(m.view('wan1')!.since, t, 'no time passed');
  assert.deepEqual(m.view('wan1')!.reason, { kind: 'carrier-lost' });
  const sent = probers.sentTotal();
  await clock.advance(5000);
  assert.equal(probers.made.filter((p) => p.source.ipv4 === '198.18.1.1').some((p) => !p.closed), false, 'prober closed');
  assert.ok(probers.sentTotal() - sent <= 20, 'only wan2 still probes');
  kernel.link(11, 'wan1', { lowerUp: true });
  assert.equal(state('wan1'), 'probing');
  assert.deepEqual(m.view('wan1')!.reason, { kind: 'carrier-up' });
  const took = await clock.until(() => state('wan1') === 'online', 3000);
  assert.equal(took, 1002, 'first round at once, then every 500 ms');
  kernel.link(11, 'wan1', { adminUp: false });
  assert.deepEqual(m.view('wan1')!.reason, { kind: 'admin-down' });
  await m.stop();
});

test('an address change re-sources the probes without a state change, and is reported', async () => {
  const { m, clock, kernel, probers, changes, log, state } = await setup();
  await clock.advance(3000);
  const before = changes.length;
  kernel.addr(11, '198.18.1.77/24');
  kernel.delAddr(11, '198.18.1.1');
  assert.equal(state('wan1'), 'online');
  assert.equal(m.view('wan1')!.observation.ipv4?.address, '198.18.1.77');
  const live = probers.live().filter((p) => p.source.ipv4?.startsWith('198.18.1.'));
  assert.deepEqual(live.map((p) => p.source.ipv4), ['198.18.1.77']);
  assert.equal(live[0]!.sent.length, 0, 'no extra round: the next one comes on the cadence');
  assert.ok(changes.length > before);
  assert.equal(changes.at(-1)!.prev?.observation.ipv4?.address, '198.18.1.1');
  assert.ok(log.find((l) => l.op === 'addressing' && String(l.ipv4).startsWith('198.18.1.77/24')));
  await clock.advance(3000);
  assert.equal(state('wan1'), 'online');
  assert.ok(live[0]!.sent.length >= 6, 'probes continue from the new address');
  await m.stop();
});

test('gateway learned when omitted: no gateway → offline (no-gateway); the DHCP route appears → probing → online', async () => {
  const { m, clock, kernel, state } = await setup(config(), (k) => {
    k.link(11, 'wan1');
    k.addr(11, '198.18.1.1/24');
    k.link(12, 'wan2');
    k.addr(12, '198.18.2.1/24');
  });
  assert.equal(state('wan2'), 'offline');
  assert.deepEqual(m.view('wan2')!.reason, { kind: 'no-gateway' });
  kernel.route({ oif: 12, gateway: '198.18.2.9', priority: 100, protocol: 250 });
  assert.equal(state('wan2'), 'offline', 'our own route is not a learned gateway');
  kernel.route({ oif: 12, gateway: '198.18.2.254', priority: 100, protocol: 16 });
  assert.equal(state('wan2'), 'probing');
  assert.deepEqual(m.view('wan2')!.reason, { kind: 'address-changed' });
  await clock.until(() => state('wan2') === 'online', 3000);
  assert.deepEqual(m.view('wan2')!.observation.ipv4, { address: '198.18.2.1', prefixLen: 24, gateway: '198.18.2.254', gatewaySource: 'route' });
  await m.stop();
});

test('operator override: down → disabled, up → online despite failing probes, auto → back to health; unknown link', async () => {
  const { m, clock, probers, hooks, state } = await setup();
  await clock.advance(3000);
  const v = m.override('wan1', 'down');
  assert.equal(v.state, 'disabled');
  assert.deepEqual(v.reason, { kind: 'manual', action: 'down' });
  assert.equal(v.weight, 0);
  assert.equal(hooks.events.at(-1)!.state, 'disabled');
  probers.respond = (_t, s) => (s.ipv4 === '198.18.1.1' ? 'lost' : { rttMs: 2 });
  await clock.advance(3000);
  assert.equal(state('wan1'), 'disabled', 'probes keep running under the override');
  assert.equal(m.status().links[0]!.health.state, 'offline');
  assert.equal(m.override('wan1', 'up').state, 'online');
  assert.equal(m.view('wan1')!.weight, 5);
  const back = m.override('wan1', 'auto');
  assert.equal(back.state, 'offline');
  assert.deepEqual(back.reason, { kind: 'manual', action: 'auto' });
  assert.throws(
    () => m.override('wan7', 'down'),
    (e: unknown) => e instanceof WanbraidError && e.code === 'WB_REQUEST_INVALID' && /unknown link "wan7" \(did you mean "wan1"\?\)/.test(e.message),
  );
  await m.stop();
});

test('forced up does not beat the kernel: no carrier is still offline', async () => {
  const { m, clock, kernel, state } = await setup();
  await clock.advance(3000);
  m.override('wan1', 'up');
  kernel.link(11, 'wan1', { lowerUp: false });
  assert.equal(state('wan1'), 'offline');
  kernel.link(11, 'wan1', { lowerUp: true });
  assert.equal(state('wan1'), 'online', 'forced up again as soon as the kernel allows');
  await m.stop();
});

test('a schedule window takes the link out for its duration, shows its end in status, then ends', async () => {
  const cfg = config({ schedules: [{ name: 'nightly', cron: '0 2 * * *', link: 'wan2', action: 'down', duration: '30m' }] });
  const { m, clock, schedules, state } = await setup(cfg);
  await clock.advance(3000);
  schedules.fire('nightly');
  const t0 = clock.now();
  assert.equal(state('wan2'), 'disabled');
  assert.deepEqual(m.view('wan2')!.reason, { kind: 'schedule', schedule: 'nightly', action: 'down' });
  const st = m.status().links[1]!;
  assert.deepEqual(st.override, { action: 'down', source: { kind: 'schedule', schedule: 'nightly' }, since: t0, until: t0 + 30 * 60_000 });
  assert.equal(st.schedules[0]!.activeUntil, t0 + 30 * 60_000);
  assert.equal(st.schedules[0]!.nextRun, Date.UTC(2024, 0, 11, 2, 0, 0));
  await clock.advance(30 * 60_000 - 1);
  assert.equal(state('wan2'), 'disabled');
  await clock.advance(1);
  assert.equal(state('wan2'), 'online');
  assert.deepEqual(m.view('wan2')!.reason, { kind: 'schedule', schedule: 'nightly', action: 'end' });
  await m.stop();
});

test('a daemon started inside a schedule window takes the link out at once, until the window’s end', async () => {
  const cfg = config({ schedules: [{ name: 'nightly', cron: '0 2 * * *', link: 'wan1', action: 'down', duration: '30m' }] });
  const clock0 = new FakeClock();
  const kernel = new FakeKernel();
  defaultKernel(kernel);
  const schedules = new FakeSchedules();
  schedules.lastFires.set('nightly', clock0.now() - 10 * 60_000);
  const m = new HealthManager({ logger: captureLogger().logger, config: cfg, kernel, createProber: new FakeProbers(clock0).factory, clock: clock0, schedules, hooks: null, wallNow: () => clock0.now() });
  await m.start();
  assert.equal(m.view('wan1')!.state, 'disabled');
  assert.equal(m.status().links[0]!.override?.until, clock0.now() + 20 * 60_000);
  await clock0.advance(20 * 60_000);
  assert.equal(m.view('wan1')!.state, 'online');
  await m.stop();
});

test('reload keeps unchanged links and overrides, applies weights, adds and removes links', async () => {
  const { m, clock, probers, kernel, state } = await setup();
  await clock.advance(3000);
  m.override('wan2', 'down');
  const since1 = m.view('wan1')!.since;
  const removed: string[] = [];
  m.on('removed', (v) => removed.push(v.name));
  kernel.link(13, 'wan3');
  kernel.addr(13, '198.18.3.1/24');
  const made = probers.made.length;
  m.reload(
    config({}, [
      { name: 'wan1', interface: 'wan1', gateway: '198.18.1.254', weight: 7, probe: { targets: TARGETS } },
      { name: 'wan3', interface: 'wan3', gateway: '198.18.3.254', probe: { targets: TARGETS } },
      { name: 'wan2', interface: 'wan2', weight: 3, probe: { targets: TARGETS } },
    ]),
  );
  assert.deepEqual(m.views().map((v) => v.name), ['wan1', 'wan3', 'wan2']);
  assert.equal(state('wan1'), 'online');
  assert.equal(m.view('wan1')!.since, since1);
  assert.equal(m.view('wan1')!.weight, 7);
  assert.equal(state('wan2'), 'disabled', 'the override survives');
  assert.equal(state('wan3'), 'probing');
  assert.equal(probers.made.length, made + 1, 'only the new link got a prober');
  m.reload(config({}, [{ name: 'wan1', interface: 'wan1', gateway: '198.18.1.254', weight: 7, probe: { targets: ['198.19.0.1'], interval: '1s' } }]));
  assert.deepEqual(removed, ['wan3', 'wan2']);
  assert.equal(state('wan1'), 'online', 'new probe settings keep the state');
  assert.deepEqual(probers.live().map((p) => p.probe.targets), [['198.19.0.1']]);
  await m.stop();
});

test('status: figures of the window, targets, IPv6 target without an IPv6 address fails at once', async () => {
  const cfg = config({}, [{ name: 'wan1', interface: 'wan1', gateway: '198.18.1.254', probe: { targets: ['198.19.0.1', '2001:db8:ffff::1'] } }]);
  const { m, clock, probers, state } = await setup(cfg);
  probers.respond = () => ({ rttMs: 12 });
  // Stop between rounds, once the last round's IPv4 answer is in.
  await clock.advance(5000 + 20);
  assert.equal(state('wan1'), 'online', 'one answering target is enough');
  const st = m.status().links[0]!;
  assert.equal(st.method, 'icmp');
  assert.equal(st.rttMs, 12);
  assert.equal(st.jitterMs, 0);
  assert.equal(st.lossPct, 50);
  const v6 = st.targets.find((t) => t.target === '2001:db8:ffff::1')!;
  assert.equal(v6.last?.ok, false);
  assert.equal(v6.last?.error, 'no usable IPv6 address on wan1');
  assert.equal(v6.failed, v6.sent);
  assert.equal(st.transitions, 1);
  assert.equal((JSON.parse(JSON.stringify(m.status())) as { links: { name: string }[] }).links[0]!.name, 'wan1', 'JSON-safe');
  const text = formatMetrics(m.metrics());
  assert.match(text, /^wanbraid_link_state\{link="wan1",state="online"\} 1$/m);
  assert.match(text, /^wanbraid_link_state\{link="wan1",state="offline"\} 0$/m);
  assert.match(text, /^wanbraid_link_rtt_seconds\{link="wan1"\} 0\.012$/m);
  assert.match(text, /^wanbraid_link_loss_ratio\{link="wan1"\} 0\.5$/m);
  assert.match(text, /^wanbraid_probes_failed_total\{link="wan1",target="2001:db8:ffff::1"\} \d+$/m);
  await m.stop();
});

test('a link without probes follows carrier and address', async () => {
  const cfg = config({}, [{ name: 'wan1', interface: 'wan1', gateway: '198.18.1.254' }]);
  const { m, kernel, probers, state } = await setup(cfg);
  assert.equal(state('wan1'), 'online');
  assert.deepEqual(m.view('wan1')!.reason, { kind: 'no-probes' });
  assert.equal(probers.made.length, 0);
  kernel.delAddr(11, '198.18.1.1');
  assert.deepEqual(m.view('wan1')!.reason, { kind: 'no-address' });
  kernel.addr(11, '198.18.1.1/24');
  assert.equal(state('wan1'), 'online');
  kernel.delLink(11);
  assert.deepEqual(m.view('wan1')!.reason, { kind: 'interface-missing' });
  await m.stop();
});

test('a prober factory that throws is logged and the link judged by its failing rounds', async () => {
  const clock = new FakeClock();
  const kernel = new FakeKernel();
  defaultKernel(kernel);
  const log = captureLogger();
  const m = new HealthManager({
    logger: log.logger,
    config: config(),
    kernel,
    createProber: () => {
      throw new Error('EPERM: no raw socket');
    },
    clock,
    schedules: new FakeSchedules(),
    hooks: null,
  });
  await m.start();
  await clock.until(() => m.view('wan1')!.state === 'offline', 5000);
  assert.ok(log.find((l) => l.op === 'create-prober' && String(l.err).includes('EPERM')));
  await m.stop();
});

test('statusFields: ISO times and rounded figures for the control socket', async () => {
  const { statusFields } = await import('../../../src/health/status.js');
  const cfg = config({ schedules: [{ name: 'nightly', cron: '0 2 * * *', link: 'wan1', action: 'down', duration: '30m' }] });
  const { m, clock, probers, schedules } = await setup(cfg);
  probers.respond = () => ({ rttMs: 12.345 });
  await clock.advance(3020);
  schedules.fire('nightly');
  const f = statusFields(m.status().links[0]!);
  assert.equal(f.rttMs, 12.3);
  assert.deepEqual(f.override, { action: 'down', source: 'schedule nightly', since: new Date(clock.now()).toISOString(), until: new Date(clock.now() + 30 * 60_000).toISOString() });
  const t = (f.targets as { last: { at: string; ok: boolean } }[])[0]!;
  assert.equal(t.last.ok, true);
  assert.match(t.last.at, /^2024-01-10T12:00:03\.\d{3}Z$/);
  assert.equal((f.schedules as { nextRun: string }[])[0]!.nextRun, '2024-01-11T02:00:00.000Z');
  await m.stop();
});
