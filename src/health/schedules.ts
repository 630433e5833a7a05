/**
 * Scheduled overrides: the config's `schedules:` as specs, and the thin node-cron adapter that fires
 * them. What a firing does is decided in overrides.ts; this file only knows cron.
 *
 * Cron expressions are evaluated on the wall clock in the schedule's `timezone` (node-cron), so a
 * "0 2 * * *" window follows daylight-saving changes. A node-cron task sleeps until its next match
 * (one timer per schedule, no polling).
 */
import { createTask, type ScheduledTask } from 'node-cron';
import type { Config } from '../config/schema.js';
import { lastFireWithin, type OverrideAction } from './overrides.js';

/** One entry of `schedules:`, as health uses it. */
export interface ScheduleSpec {
  /** Its `name`, or `schedules[i]` when unnamed: shown in status and reasons. */
  name: string;
  link: string;
  cron: string;
  action: OverrideAction;
  /** Milliseconds; undefined = held until `auto`. */
  durationMs: number | undefined;
  timezone: string | undefined;
}

export function scheduleSpecs(config: Pick<Config, 'schedules'>): ScheduleSpec[] {
  return config.schedules.map((s, i) => ({
    name: s.name ?? `schedules[${i}]`,
    link: s.link,
    cron: s.cron,
    action: s.action,
    durationMs: s.duration,
    timezone: s.timezone,
  }));
}

/** Identity across reloads: a schedule is "the same" when nothing about it changed. */
export function scheduleKey(s: ScheduleSpec): string {
  return JSON.stringify([s.name, s.link, s.cron, s.action, s.durationMs ?? null, s.timezone ?? null]);
}

/** What HealthManager needs from a scheduler; tests inject a fake one. */
export interface ScheduleDriver {
  /** Arm these schedules (replacing any armed before); `onFire` runs at each firing. */
  arm(specs: readonly ScheduleSpec[], onFire: (spec: ScheduleSpec) => void): void;
  /** Disarm everything. */
  disarm(): void;
  /** Wall-clock epoch milliseconds of the next firing of an armed schedule. */
  nextRun(name: string): number | undefined;
  /** Wall-clock epoch milliseconds of the latest firing in `(wallNow - lookbackMs, wallNow]`. */
  lastFire(spec: ScheduleSpec, wallNow: number, lookbackMs: number): number | undefined;
}

/** The node-cron driver. */
export class CronScheduleDriver implements ScheduleDriver {
  private tasks = new Map<string, ScheduledTask>();

  arm(specs: readonly ScheduleSpec[], onFire: (spec: ScheduleSpec) => void): void {
    this.disarm();
    for (const spec of specs) {
      const task = createTask(spec.cron, () => onFire(spec), {
        name: `wanbraid:${spec.name}`,
        ...(spec.timezone ? { timezone: spec.timezone } : {}),
        noOverlap: false,
      });
      void task.start();
      this.tasks.set(spec.name, task);
    }
  }

  disarm(): void {
    for (const t of this.tasks.values()) void t.destroy();
    this.tasks.clear();
  }

  nextRun(name: string): number | undefined {
    return this.tasks.get(name)?.getNextRun()?.getTime();
  }

  lastFire(spec: ScheduleSpec, wallNow: number, lookbackMs: number): number | undefined {
    const probe = createTask(spec.cron, () => undefined, spec.timezone ? { timezone: spec.timezone } : {});
    try {
      const step = spec.cron.trim().split(/\s+/).length >= 6 ? 1000 : 60_000;
      return lastFireWithin((d) => probe.match(d), wallNow, lookbackMs, step);
    } finally {
      void probe.destroy();
    }
  }
}
