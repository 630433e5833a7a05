/**
 * What `wanbraid status` shows per link, as data: the view (state, since, reason, weight, kernel
 * observation), the health state under any override, the quality window's figures, each target's
 * counters and last result, the override in force and the link's schedules. Times are epoch
 * milliseconds, durations milliseconds, loss in percent. Plain JSON-safe data (undefined fields
 * are left out when serialised).
 */
import type { LinkState, LinkView, StateReason } from '../model.js';
import type { ActiveOverride, OverrideAction } from './overrides.js';
import type { HealthState, TargetStatus } from './tracker.js';

export interface ScheduleStatus {
  name: string;
  cron: string;
  action: OverrideAction;
  /** Milliseconds; undefined = held until `auto`. */
  durationMs: number | undefined;
  timezone: string | undefined;
  /** Epoch milliseconds of the next firing. */
  nextRun: number | undefined;
  /** Epoch milliseconds at which its current window ends, while one is open. */
  activeUntil: number | undefined;
}

export interface LinkHealth {
  name: string;
  interface: string;
  state: LinkState;
  /** Epoch milliseconds of the last state change. */
  since: number;
  reason: StateReason;
  /** The reason in words (model.ts describeReason). */
  reasonText: string;
  weight: number;
  /** What probes and the kernel say, whatever an override makes of it. */
  health: { state: HealthState; since: number; reason: StateReason };
  /** Probe method, or undefined when the link has no probes (it follows the kernel). */
  method: string | undefined;
  /** Length of the quality window in milliseconds. */
  windowMs: number | undefined;
  /** Mean RTT over the window, milliseconds. */
  rttMs: number | undefined;
  rttLastMs: number | undefined;
  /** Percent 0-100 over the window. */
  lossPct: number | undefined;
  jitterMs: number | undefined;
  targets: TargetStatus[];
  override: ActiveOverride | undefined;
  schedules: ScheduleStatus[];
  observation: LinkView['observation'];
  /** State changes since the link was added (kept across reloads). */
  transitions: number;
}

export interface HealthStatus {
  links: LinkHealth[];
}
