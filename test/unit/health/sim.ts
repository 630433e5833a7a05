/**
 * A discrete-event harness for the pure tracker: starts a round every interval, answers each probe
 * with a scripted responder, delivers outcomes and deadlines in time order, and records the
 * transitions. No real time passes. Test helper, not a test file.
 */
import { LinkTracker, PASSIVE_SAMPLE_MS, type PassiveEvent, type HealthTransition, type KernelVerdict, type ProbeRequest, type TrackerSettings } from '../../../src/health/tracker.js';
import type { ProbeConfig } from '../../../src/config/schema.js';
import { validateConfig } from '../../../src/config/load.js';
import type { ProbeResult } from '../../../src/health/prober.js';

export const USABLE: KernelVerdict = { usable: true, reason: { kind: 'carrier-up' } };

/** A probe section with the schema's defaults (durations in milliseconds), overridden by `over`. */
export function probeConfig(over: Partial<ProbeConfig> = {}): ProbeConfig {
  const cfg = validateConfig({ links: [{ name: 'l', interface: 'l', probe: { targets: ['198.19.0.1', '198.19.0.2'], ...over } }] });
  return cfg.links[0]!.probe!;
}

export function settings(over: Partial<ProbeConfig> = {}, initialState: TrackerSettings['initialState'] = 'probing'): TrackerSettings {
  return { probe: probeConfig(over), initialState };
}

/** What a probe sent at `sentAt` to `target` (index `i` in round `round`) gets: an answer after `rttMs`, an error after `afterMs`, or nothing (timeout). */
export type Response = { rttMs: number } | { error: string; afterMs: number } | 'lost';
export type Responder = (target: string, sentAt: number, round: number, i: number, attempt: number) => Response;

interface Ev {
  at: number;
  seq: number;
  run: () => void;
}

export class Sim {
  readonly transitions: HealthTransition[] = [];
  now: number;
  private queue: Ev[] = [];
  private seq = 0;
  private nextRound: number;
  private nextSample: number;
  private lastSample = -Infinity;
  /** The link's interface counters at a time (packets out including probes, unicast in); none: no sampling. */
  counters: ((now: number) => { txPackets: number; rxPackets: number }) | undefined;
  readonly passive: PassiveEvent[] = [];

  constructor(
    readonly tracker: LinkTracker,
    private readonly probe: ProbeConfig,
    public responder: Responder,
    start = 1_000_000,
  ) {
    this.now = start;
    this.nextRound = start;
    this.nextSample = start + PASSIVE_SAMPLE_MS;
  }

  static create(over: Partial<ProbeConfig> = {}, responder: Responder = () => ({ rttMs: 1 }), initialState: TrackerSettings['initialState'] = 'probing'): Sim {
    const s = settings(over, initialState);
    const start = 1_000_000;
    return new Sim(new LinkTracker(s, USABLE, start), s.probe!, responder, start);
  }

  private push(at: number, run: () => void): void {
    this.queue.push({ at, seq: this.seq++, run });
    this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }

  record(ts: HealthTransition[]): void {
    this.transitions.push(...ts);
  }

  /** Run until `until` (epoch ms), rounds every interval. */
  runUntil(until: number): void {
    for (;;) {
      const deadline = this.tracker.nextWakeup();
      const ev = this.queue[0];
      // As the daemon's sampler: every period, and when a silent period is due (at least 10 ms on).
      const due = this.tracker.trafficDueAt();
      const sampleAt = this.counters ? Math.min(this.nextSample, due === undefined ? Infinity : Math.max(this.lastSample + 10, due)) : Infinity;
      const nextAt = Math.min(this.nextRound, ev?.at ?? Infinity, deadline ?? Infinity, sampleAt);
      if (nextAt > until) break;
      this.now = nextAt;
      if (ev && ev.at === nextAt) {
        this.queue.shift();
        ev.run();
      } else if (sampleAt === nextAt) {
        this.nextSample = this.now + PASSIVE_SAMPLE_MS;
        this.lastSample = this.now;
        const c = this.counters!(this.now);
        for (const r of this.tracker.traffic({ at: this.now, ...c })) this.sendProbe(r);
        this.passive.push(...this.tracker.takePassiveEvents());
      } else if (this.nextRound === nextAt) {
        this.nextRound += this.probe.interval;
        this.startRound();
      } else {
        const { probes, transitions } = this.tracker.poll(this.now);
        this.record(transitions);
        this.passive.push(...this.tracker.takePassiveEvents());
        for (const r of probes) this.sendProbe(r);
      }
    }
    this.now = until;
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Probes sent, with the time they were sent: attempt 1 is a retry. */
  readonly sent: (ProbeRequest & { at: number })[] = [];

  private startRound(): void {
    const reqs = this.tracker.beginRound(this.now);
    if (!reqs) return;
    for (const r of reqs) this.sendProbe(r);
  }

  private sendProbe(req: ProbeRequest): void {
    const sentAt = this.now;
    this.sent.push({ ...req, at: sentAt });
    const r = this.responder(req.target, sentAt, req.round, req.index, req.attempt);
    let at: number;
    let res: ProbeResult;
    if (r === 'lost') {
      at = sentAt + this.probe.timeout;
      res = { ok: false, error: 'timeout' };
    } else if ('rttMs' in r && r.rttMs < this.probe.timeout) {
      at = sentAt + r.rttMs;
      res = { ok: true, rttMs: r.rttMs };
    } else if ('rttMs' in r) {
      at = sentAt + this.probe.timeout;
      res = { ok: false, error: 'timeout' };
    } else {
      at = sentAt + r.afterMs;
      res = { ok: false, error: r.error };
    }
    this.push(at, () => {
      this.record(this.tracker.result(req, res, this.now));
      this.passive.push(...this.tracker.takePassiveEvents());
    });
  }

  /** Transitions into `state`, with their times. */
  into(state: string): HealthTransition[] {
    return this.transitions.filter((t) => t.state === state && t.prev !== state);
  }

  stateChanges(): HealthTransition[] {
    return this.transitions.filter((t) => t.state !== t.prev);
  }
}

/** Deterministic PRNG (mulberry32) for loss patterns: the same seed, the same pattern, every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
