/**
 * Manual and scheduled overrides in the running manager on the real kernel: `down` disables a
 * healthy link, `up` forces a blackholed one online, `auto` hands it back to its probes; a real
 * node-cron schedule (every 2 seconds, for 1 second) takes a link out and puts it back.
 *
 *   router (HealthManager)
 *     wan1 ── isp1 ─┐
 *     wan2 ── isp2 ─┴── inet (198.19.0.1, .2)
 *   router: table 10I default via ispI, rule "from <wanI address> lookup 10I" (both families)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LinkView } from '../../../src/model.js';
import type { HealthStatus } from '../../../src/health/status.js';
import { allOnline, healthLab, type HealthLab } from './setup.js';
import { linkConfig } from './routing.js';

let h: HealthLab;

before(async () => {
  h = await healthLab({ links: 2 });
  await allOnline(h, ['wan1', 'wan2']);
});

after(async () => {
  await h?.down();
});

test('link down disables a healthy link; up forces a blackholed one online; auto hands it back', async () => {
  const down = await h.driver.call<LinkView>('health.override', { link: 'wan1', action: 'down' });
  assert.equal(down.state, 'disabled');
  assert.deepEqual(down.reason, { kind: 'manual', action: 'down' });
  const since = h.driver.cursor('change');
  await h.lab.fault('wan1', { kind: 'blackhole' });
  // Probes go on under the override: health sees the blackhole.
  let st: HealthStatus['links'][number] | undefined;
  for (let i = 0; i < 100 && st?.health.state !== 'offline'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    st = (await h.driver.call<HealthStatus>('health.status')).links[0];
  }
  assert.equal(st?.health.state, 'offline');
  assert.equal(st?.state, 'disabled');
  assert.deepEqual(st?.override?.source, { kind: 'operator' });
  const up = await h.driver.call<LinkView>('health.override', { link: 'wan1', action: 'up' });
  assert.equal(up.state, 'online');
  assert.equal(up.weight, 1);
  const auto = await h.driver.call<LinkView>('health.override', { link: 'wan1', action: 'auto' });
  assert.equal(auto.state, 'offline');
  assert.deepEqual(auto.reason, { kind: 'manual', action: 'auto' });
  const back = h.driver.cursor('change');
  await h.lab.fault('wan1', { kind: 'clear' });
  await h.waitState('wan1', 'online', { since: back });
  assert.ok(h.driver.items('change').length > since);
});

test('a schedule takes the link out for its duration and puts it back (node-cron, every 2 s for 1 s)', async () => {
  const since = h.driver.cursor('change');
  await h.driver.call('health.reload', {
    config: {
      links: h.links.map((l) => linkConfig(l)),
      schedules: [{ name: 'blink', cron: '*/2 * * * * *', link: 'wan2', action: 'down', duration: '1s' }],
    },
  });
  // The first window may be one the reload caught up with (it fires on even seconds and lasts 1 s,
  // so the reload may land inside one): take the second, whole one.
  await h.waitState('wan2', 'disabled', { since });
  await h.waitState('wan2', 'online', { since });
  const c = h.driver.cursor('change');
  const out = await h.waitState('wan2', 'disabled', { since: c });
  assert.deepEqual(out.view.reason, { kind: 'schedule', schedule: 'blink', action: 'down' });
  const st = (await h.driver.call<HealthStatus>('health.status')).links[1]!;
  assert.equal(st.schedules[0]!.name, 'blink');
  assert.ok(st.schedules[0]!.nextRun !== undefined);
  const back = await h.waitState('wan2', 'online', { since: c });
  assert.deepEqual(back.view.reason, { kind: 'schedule', schedule: 'blink', action: 'end' });
  // The duration is honoured (never shorter); the ceiling only says it ended, not at the next window's end.
  assert.ok(back.at - out.at >= 900 && back.at - out.at < 10_000, `out for ${back.at - out.at} ms`);
  // Without the schedule, the link stays in.
  const views = await h.driver.call<LinkView[]>('health.reload', { config: { links: h.links.map((l) => linkConfig(l)) } });
  assert.equal(views[1]!.state, 'online');
});
