/**
 * Manual and scheduled overrides: precedence, expiry, `auto`, reload, catching up with a window
 * that began before the daemon started; and the node-cron driver with a real one-second schedule
 * (waited for by event, with a generous bound).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NO_OVERRIDE,
  activeOverride,
  expire,
  keepSchedules,
  lastFireWithin,
  nextExpiry,
  operatorAction,
  scheduleFired,
} from '../../../src/health/overrides.js';
import { CronScheduleDriver, scheduleKey, scheduleSpecs, type ScheduleSpec } from '../../../src/health/schedules.js';

const MIN = 60_000;
const nightly = { name: 'nightly', action: 'down' as const, durationMs: 30 * MIN };

test('operator down/up hold until auto', () => {
  let s = operatorAction(NO_OVERRIDE, 'down', 100);
  assert.deepEqual(activeOverride(s, 10_000_000), { action: 'down', source: { kind: 'operator' }, since: 100, until: undefined });
  s = operatorAction(s, 'up', 200);
  assert.equal(activeOverride(s, 300)?.action, 'up');
  s = operatorAction(s, 'auto', 400);
  assert.equal(activeOverride(s, 500), undefined);
});

test('a schedule window holds for its duration, then ends; nextExpiry gives the timer', () => {
  const t0 = 1_000 * MIN;
  let s = scheduleFired(NO_OVERRIDE, nightly, t0);
  assert.deepEqual(activeOverride(s, t0 + 29 * MIN), { action: 'down', source: { kind: 'schedule', schedule: 'nightly' }, since: t0, until: t0 + 30 * MIN });
  assert.equal(nextExpiry(s, t0), t0 + 30 * MIN);
  assert.equal(activeOverride(s, t0 + 30 * MIN), undefined);
  s = expire(s, t0 + 30 * MIN);
  assert.equal(s.windows.length, 0);
  assert.equal(nextExpiry(s, t0), undefined);
});

test('the latest override wins: a window overrules an earlier operator up, which holds again after it', () => {
  let s = operatorAction(NO_OVERRIDE, 'up', 10);
  s = scheduleFired(s, nightly, 1000);
  assert.equal(activeOverride(s, 2000)?.action, 'down');
  assert.equal(activeOverride(s, 1000 + 30 * MIN)?.action, 'up');
  // An operator action during the window overrules the window.
  s = operatorAction(s, 'up', 5000);
  assert.equal(activeOverride(s, 6000)?.source.kind, 'operator');
});

test('auto ends the windows active now; the next firing opens a new one', () => {
  let s = scheduleFired(NO_OVERRIDE, nightly, 0);
  s = operatorAction(s, 'auto', 5 * MIN);
  assert.equal(activeOverride(s, 6 * MIN), undefined);
  s = scheduleFired(s, nightly, 24 * 60 * MIN);
  assert.equal(activeOverride(s, 24 * 60 * MIN + 1)?.action, 'down');
});

test('a schedule without duration holds like an operator action; a tie goes to down', () => {
  const s = scheduleFired(NO_OVERRIDE, { name: 'evening', action: 'up', durationMs: undefined }, 50);
  assert.deepEqual(activeOverride(s, 1e12), { action: 'up', source: { kind: 'schedule', schedule: 'evening' }, since: 50, until: undefined });
  const tie = scheduleFired(s, { name: 'w', action: 'down', durationMs: 10 }, 50);
  assert.equal(activeOverride(tie, 55)?.action, 'down');
});

test('reload: windows of removed schedules end, the rest and held overrides stay', () => {
  let s = operatorAction(NO_OVERRIDE, 'down', 0);
  s = scheduleFired(s, nightly, 10);
  s = scheduleFired(s, { name: 'other', action: 'up', durationMs: MIN }, 20);
  s = keepSchedules(s, new Set(['nightly']));
  assert.deepEqual(s.windows.map((w) => w.schedule), ['nightly']);
  assert.equal(s.held?.action, 'down');
});

test('lastFireWithin finds the window a daemon started inside of', () => {
  const at0200 = Date.UTC(2024, 0, 10, 2, 0, 0);
  const matches = (d: Date) => d.getUTCHours() === 2 && d.getUTCMinutes() === 0;
  assert.equal(lastFireWithin(matches, at0200 + 10 * MIN + 1234, 30 * MIN, MIN), at0200);
  assert.equal(lastFireWithin(matches, at0200 + 31 * MIN, 30 * MIN, MIN), undefined);
  assert.equal(lastFireWithin(matches, at0200, 30 * MIN, MIN), at0200);
});

test('schedule specs: default names, keys change with any field', () => {
  const specs = scheduleSpecs({
    schedules: [
      { cron: '0 2 * * *', link: 'wan3', action: 'down', duration: 30 * MIN },
      { name: 'evening', cron: '0 18 * * 1-5', link: 'wan1', action: 'up' },
    ],
  });
  assert.equal(specs[0]!.name, 'schedules[0]');
  assert.equal(specs[1]!.name, 'evening');
  assert.equal(specs[1]!.durationMs, undefined);
  assert.notEqual(scheduleKey(specs[0]!), scheduleKey({ ...specs[0]!, durationMs: 31 * MIN }));
});

test('cron driver: lastFire honours the time zone', () => {
  const d = new CronScheduleDriver();
  const spec: ScheduleSpec = { name: 'n', link: 'wan3', cron: '0 2 * * *', action: 'down', durationMs: 30 * MIN, timezone: 'Asia/Tokyo' };
  // 02:00 in Tokyo is 17:00 UTC the day before.
  const fire = Date.UTC(2024, 0, 9, 17, 0, 0);
  assert.equal(d.lastFire(spec, fire + 10 * MIN, 30 * MIN), fire);
  assert.equal(d.lastFire({ ...spec, timezone: 'UTC' }, fire + 10 * MIN, 30 * MIN), undefined);
});

test('cron driver: a real every-second schedule fires, reports its next run, and stops when disarmed', async () => {
  const d = new CronScheduleDriver();
  const spec: ScheduleSpec = { name: 'tick', link: 'wan1', cron: '* * * * * *', action: 'down', durationMs: 500, timezone: undefined };
  try {
    const fired = new Promise<ScheduleSpec>((resolve) => d.arm([spec], resolve));
    const next = d.nextRun('tick');
    assert.ok(next !== undefined && next > Date.now() - 1000 && next <= Date.now() + 1000, 'next run within a second');
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no firing within 10 s')), 10_000);
    });
    assert.equal((await Promise.race([fired, bound])).name, 'tick');
    clearTimeout(timer);
  } finally {
    d.disarm();
  }
  assert.equal(d.nextRun('tick'), undefined);
});
