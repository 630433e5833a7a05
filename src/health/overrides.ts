/**
 * Manual and scheduled overrides of one link: the pure decision.
 *
 * Two kinds of override sit on top of health:
 * - *held*: the operator's `wanbraid link NAME down|up`, or a schedule without `duration`; it stays
 *   until `auto` (or another held action);
 * - *windows*: a schedule with `duration` fired at `since` and holds until `since + duration`.
 *
 * When several apply, the one that started last wins (the operator's `up` at 01:00 is overruled by
 * the 02:00 maintenance window until it ends, then holds again); on a tie `down` wins. `auto` clears
 * the held override and ends the windows active at that moment (a later firing opens a new one).
 *
 * What an override means is applied in link-runner.ts: `down` → the link is `disabled`; `up` → the
 * link is `online` whatever the probes say, as long as the kernel says it is usable (no carrier or
 * no address still means offline: nothing could flow).
 *
 * Pure: values in, values out; times are epoch milliseconds.
 */

export type OverrideAction = 'down' | 'up';
export type OperatorAction = OverrideAction | 'auto';

export type OverrideSource = { kind: 'operator' } | { kind: 'schedule'; schedule: string };

/** The override in force now. */
export interface ActiveOverride {
  action: OverrideAction;
  source: OverrideSource;
  /** Epoch milliseconds it began. */
  since: number;
  /** Epoch milliseconds it ends; undefined = until `auto`. */
  until: number | undefined;
}

export interface ScheduleWindow {
  schedule: string;
  action: OverrideAction;
  since: number;
  until: number;
}

export interface OverrideState {
  held: { action: OverrideAction; source: OverrideSource; since: number } | undefined;
  windows: readonly ScheduleWindow[];
}

export const NO_OVERRIDE: OverrideState = { held: undefined, windows: [] };

/** The operator's `down`, `up` or `auto`. */
export function operatorAction(s: OverrideState, action: OperatorAction, now: number): OverrideState {
  if (action === 'auto') return { held: undefined, windows: s.windows.filter((w) => w.since > now) };
  return { held: { action, source: { kind: 'operator' }, since: now }, windows: s.windows };
}

/** A schedule fired at `now`: a window of `durationMs`, or a held override without one. */
export function scheduleFired(
  s: OverrideState,
  sched: { name: string; action: OverrideAction; durationMs: number | undefined },
  now: number,
): OverrideState {
  if (sched.durationMs === undefined) return { held: { action: sched.action, source: { kind: 'schedule', schedule: sched.name }, since: now }, windows: s.windows };
  const windows = s.windows.filter((w) => w.schedule !== sched.name);
  windows.push({ schedule: sched.name, action: sched.action, since: now, until: now + sched.durationMs });
  return { held: s.held, windows };
}

/** The override in force at `now`, if any. */
export function activeOverride(s: OverrideState, now: number): ActiveOverride | undefined {
  let best: ActiveOverride | undefined;
  const consider = (o: ActiveOverride) => {
    if (!best || o.since > best.since || (o.since === best.since && o.action === 'down' && best.action === 'up')) best = o;
  };
  if (s.held) consider({ ...s.held, until: undefined });
  for (const w of s.windows) {
    if (w.since <= now && now < w.until) consider({ action: w.action, source: { kind: 'schedule', schedule: w.schedule }, since: w.since, until: w.until });
  }
  return best;
}

/** Drop windows that have ended. */
export function expire(s: OverrideState, now: number): OverrideState {
  const windows = s.windows.filter((w) => w.until > now);
  return windows.length === s.windows.length ? s : { held: s.held, windows };
}

/** Epoch milliseconds of the next window end after `now`, for a timer. */
export function nextExpiry(s: OverrideState, now: number): number | undefined {
  let next: number | undefined;
  for (const w of s.windows) if (w.until > now && (next === undefined || w.until < next)) next = w.until;
  return next;
}

/** After a reload: windows of schedules that no longer exist end; held overrides stay. */
export function keepSchedules(s: OverrideState, names: ReadonlySet<string>): OverrideState {
  const windows = s.windows.filter((w) => names.has(w.schedule));
  return windows.length === s.windows.length ? s : { held: s.held, windows };
}

/**
 * The latest time in `(now - lookbackMs, now]` at which a cron expression fired, scanning back in
 * `stepMs` steps aligned to the step (60 000 for five-field expressions, 1000 with a seconds field):
 * a daemon started (or reloaded) at 02:10 finds the 02:00 window of a 30-minute schedule. At most
 * `maxSteps` tests, so a long duration with a seconds field cannot stall the start.
 */
export function lastFireWithin(matches: (d: Date) => boolean, now: number, lookbackMs: number, stepMs: number, maxSteps = 20_000): number | undefined {
  let t = Math.floor(now / stepMs) * stepMs;
  for (let i = 0; i < maxSteps && t > now - lookbackMs; i++, t -= stepMs) {
    if (matches(new Date(t))) return t;
  }
  return undefined;
}
