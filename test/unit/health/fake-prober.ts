/**
 * Fake probers on a {@link FakeClock}: each probe resolves after the scripted RTT, or at the
 * timeout when lost, or with an error. Records every prober made (with its source) and every probe
 * sent. Test helper.
 */
import type { ProbeConfig } from '../../../src/config/schema.js';
import type { ProbeResult, Prober, ProberFactory, ProbeSource } from '../../../src/health/prober.js';
import type { FakeClock } from './fake-clock.js';

export type FakeResponse = { rttMs: number } | { error: string; afterMs?: number } | 'lost';

export interface FakeProberRecord {
  probe: ProbeConfig;
  source: ProbeSource;
  closed: boolean;
  sent: { target: string; at: number }[];
}

export class FakeProbers {
  readonly made: FakeProberRecord[] = [];
  respond: (target: string, source: ProbeSource) => FakeResponse = () => ({ rttMs: 2 });

  constructor(private readonly clock: FakeClock) {}

  get factory(): ProberFactory {
    return (probe, source) => {
      const rec: FakeProberRecord = { probe, source: { ...source }, closed: false, sent: [] };
      this.made.push(rec);
      const prober: Prober = {
        probe: (target, timeoutMs) => {
          rec.sent.push({ target, at: this.clock.now() });
          const r = this.respond(target, rec.source);
          return new Promise<ProbeResult>((resolve) => {
            if (r === 'lost') this.clock.setTimer(() => resolve({ ok: false, error: 'timeout' }), timeoutMs);
            else if ('rttMs' in r) {
              if (r.rttMs >= timeoutMs) this.clock.setTimer(() => resolve({ ok: false, error: 'timeout' }), timeoutMs);
              else this.clock.setTimer(() => resolve({ ok: true, rttMs: r.rttMs }), r.rttMs);
            } else this.clock.setTimer(() => resolve({ ok: false, error: r.error }), r.afterMs ?? 0);
          });
        },
        close: () => {
          rec.closed = true;
        },
      };
      return prober;
    };
  }

  /** Probes sent by live (not closed) probers. */
  sentTotal(): number {
    return this.made.reduce((n, m) => n + m.sent.length, 0);
  }

  live(): FakeProberRecord[] {
    return this.made.filter((m) => !m.closed);
  }
}
