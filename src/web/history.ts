/**
 * What the dashboard remembers, pure and bounded: one sample per link per tick (state, weight,
 * RTT, loss, jitter, throughput in and out) for the last {@link HISTORY_SAMPLES} ticks (10
 * minutes at one a second), and the last {@link TIMELINE_EVENTS} daemon events (each at most
 * {@link MAX_EVENT_BYTES} of JSON). A fresh page load gets both, then follows live updates.
 *
 * Throughput is the change of the interface's byte counters between two ticks, in bits per
 * second; the first tick of a link, a counter that went down (the interface was recreated) or an
 * interface that changed gives no figure (null) rather than a wrong one. Times are epoch
 * milliseconds, durations milliseconds, loss in percent.
 */
import type { LinkState } from '../model.js';
import type { IfCounters } from './netdev.js';
import { Ring } from './ring.js';

export const HISTORY_SAMPLES = 600;
export const TIMELINE_EVENTS = 200;
export const MAX_EVENT_BYTES = 4096;

/** One link as the daemon sees it now (cheap to gather every tick). */
export interface LinkInput {
  name: string;
  interface: string;
  state: LinkState;
  /** The reason for the state, in words. */
  reason: string;
  /** Weight in effect. */
  weight: number;
  rttMs: number | undefined;
  lossPct: number | undefined;
  jitterMs: number | undefined;
}

export interface LinkPoint {
  state: LinkState;
  reason: string;
  weight: number;
  rttMs: number | null;
  lossPct: number | null;
  jitterMs: number | null;
  /** Bits per second received on the link's interface since the previous tick. */
  inBps: number | null;
  /** Bits per second sent. */
  outBps: number | null;
}

export interface Sample {
  /** Epoch milliseconds. */
  t: number;
  links: Record<string, LinkPoint>;
}

export interface TimelineEvent {
  /** Increasing from 1 in this daemon: a page skips what its snapshot already had. */
  seq: number;
  event: string;
  /** ISO-8601. */
  time: string;
  [field: string]: unknown;
}

/** Bits per second between two counter readings; null when there is no honest figure. */
export function rateBps(prev: number | undefined, cur: number | undefined, dtMs: number): number | null {
  if (prev === undefined || cur === undefined || !(dtMs > 0) || cur < prev) return null;
  return Math.round(((cur - prev) * 8 * 1000) / dtMs);
}

/** Rounded to 0.1 (the status object's precision); null when absent. */
const num = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : Math.round(v * 10) / 10);

export class History {
  private readonly ring: Ring<Sample>;
  private readonly prev = new Map<string, { t: number; iface: string; c: IfCounters | undefined }>();

  constructor(capacity = HISTORY_SAMPLES) {
    this.ring = new Ring(capacity);
  }

  /** One tick at `t`: the links and this namespace's interface counters. Returns the sample kept. */
  observe(t: number, links: readonly LinkInput[], counters: ReadonlyMap<string, IfCounters>): Sample {
    const out: Record<string, LinkPoint> = {};
    for (const l of links) {
      const c = counters.get(l.interface);
      const p = this.prev.get(l.name);
      const same = p !== undefined && p.iface === l.interface;
      const dt = same ? t - p.t : 0;
      out[l.name] = {
        state: l.state,
        reason: l.reason,
        weight: l.weight,
        rttMs: num(l.rttMs),
        lossPct: num(l.lossPct),
        jitterMs: num(l.jitterMs),
        inBps: same ? rateBps(p.c?.rxBytes, c?.rxBytes, dt) : null,
        outBps: same ? rateBps(p.c?.txBytes, c?.txBytes, dt) : null,
      };
      this.prev.set(l.name, { t, iface: l.interface, c });
    }
    for (const name of [...this.prev.keys()]) if (!(name in out)) this.prev.delete(name);
    const s = { t, links: out };
    this.ring.push(s);
    return s;
  }

  /** Oldest first. */
  samples(): Sample[] {
    return this.ring.toArray();
  }
}

export class Timeline {
  private readonly ring: Ring<TimelineEvent>;
  private seq = 0;
  private lastPlanEvent: TimelineEvent | undefined;

  constructor(capacity = TIMELINE_EVENTS) {
    this.ring = new Ring(capacity);
  }

  /** Record a daemon event; a body larger than {@link MAX_EVENT_BYTES} of JSON is cut to a summary. */
  push(event: string, body: Record<string, unknown>, now: Date = new Date()): TimelineEvent {
    let rest: Record<string, unknown> = body;
    const json = JSON.stringify(body) ?? '{}';
    if (json.length > MAX_EVENT_BYTES) rest = { truncated: true, summary: json.slice(0, MAX_EVENT_BYTES - 64) };
    const e: TimelineEvent = { ...rest, seq: ++this.seq, event, time: now.toISOString() };
    this.ring.push(e);
    if (event === 'plan') this.lastPlanEvent = e;
    return e;
  }

  events(): TimelineEvent[] {
    return this.ring.toArray();
  }

  /** The newest `plan` event (kept even when the timeline has moved past it). */
  lastPlan(): TimelineEvent | undefined {
    return this.lastPlanEvent;
  }
}
