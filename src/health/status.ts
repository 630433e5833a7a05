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
import type { PassiveStatus } from './passive.js';

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
  /** The passive signal: whether on, its state and threshold now, suspicions and their outcomes. */
  passive: PassiveStatus & { enabled: boolean };
  override: ActiveOverride | undefined;
  schedules: ScheduleStatus[];
  observation: LinkView['observation'];
  /** State changes since the link was added (kept across reloads). */
  transitions: number;
}

export interface HealthStatus {
  links: LinkHealth[];
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const round1 = (v: number | undefined) => (v === undefined ? undefined : Math.round(v * 10) / 10);

/**
 * The health fields of one link for the control socket's status object (status/types.ts
 * `LinkStatus`, whose base fields — name, interface, state, since, reason, weight — the daemon
 * fills from the view): times as ISO-8601, figures rounded to 0.1.
 */
export function statusFields(h: LinkHealth): Record<string, unknown> {
  return {
    health: { state: h.health.state, since: iso(h.health.since), reason: h.health.reason.kind },
    method: h.method,
    rttMs: round1(h.rttMs),
    rttLastMs: round1(h.rttLastMs),
    lossPct: round1(h.lossPct),
    jitterMs: round1(h.jitterMs),
    windowMs: h.windowMs,
    targets: h.targets.map((t) => ({
      target: t.target,
      sent: t.sent,
      failed: t.failed,
      last: t.last && { ok: t.last.ok, rttMs: round1(t.last.rttMs), error: t.last.error, at: iso(t.last.at) },
    })),
    passive: {
      enabled: h.passive.enabled,
      state: h.passive.state,
      thresholdMs: h.passive.thresholdMs,
      backoff: h.passive.backoff,
      suspicions: h.passive.suspicions,
      confirmed: h.passive.confirmed,
      cleared: h.passive.cleared,
      last: h.passive.last && { ...h.passive.last, at: iso(h.passive.last.at) },
    },
    override: h.override && {
      action: h.override.action,
      source: h.override.source.kind === 'operator' ? 'operator' : `schedule ${h.override.source.schedule}`,
      since: iso(h.override.since),
      until: iso(h.override.until),
    },
    schedules: h.schedules.map((s) => ({ ...s, nextRun: iso(s.nextRun), activeUntil: iso(s.activeUntil) })),
    addressing: {
      ipv4: h.observation.ipv4,
      ipv6: h.observation.ipv6,
      carrier: h.observation.carrier,
      adminUp: h.observation.adminUp,
    },
    transitions: h.transitions,
  };
}
