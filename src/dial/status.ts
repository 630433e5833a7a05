/**
 * The `dials` section of the status object and its human rendering. Pure. Times are ISO-8601,
 * durations milliseconds (as in the rest of the status object).
 */
import { ago, table } from '../cli/table.js';
import type { MetricFamily } from '../status/metrics.js';
import type { SessionState } from './session.js';

export interface DialSessionStatus {
  index: number;
  link: string;
  /** The macvlan on the parent. */
  macvlan: string;
  mac: string;
  state: SessionState;
  since: string;
  /** `address/prefixLen` while up. */
  address?: string;
  /** The next hop the client reported (DHCP router option); absent on PPP. */
  router?: string;
  /** Milliseconds up (while up). */
  uptimeMs?: number;
  /** Dials so far, the first one included. */
  attempts: number;
  /** The last failure, in words. */
  lastError?: string;
  /** When a failed session is dialled again. */
  nextDialAt?: string;
  /** The client's process id while it runs. */
  pid?: number;
}

export interface DialStatus {
  name: string;
  parent: string;
  method: 'dhcp' | 'pppoe';
  /** Sessions configured. */
  total: number;
  /** Sessions up now. */
  up: number;
  sessions: DialSessionStatus[];
}

export function formatDialStatus(dials: readonly DialStatus[], now: number): string {
  const out: string[] = [];
  for (const d of dials) {
    out.push(`dial ${d.name}: ${d.up}/${d.total} sessions up (${d.method} on ${d.parent})`);
    out.push(
      table(
        ['SESSION', 'MACVLAN', 'STATE', 'SINCE', 'ADDRESS', 'UPTIME', 'ATTEMPTS', 'LAST ERROR'],
        d.sessions.map((s) => [
          s.link,
          s.macvlan,
          s.state === 'failed' && s.nextDialAt ? `failed (redial in ${ago(Date.parse(s.nextDialAt) - now)})` : s.state,
          ago(now - Date.parse(s.since)),
          s.address ?? '-',
          s.uptimeMs !== undefined ? ago(s.uptimeMs) : '-',
          String(s.attempts),
          s.lastError ?? '-',
        ]),
      ),
    );
  }
  return out.join('\n');
}

/** Prometheus families of the dials (status/metrics-server.ts). Pure. */
export function dialMetricFamilies(dials: readonly DialStatus[]): MetricFamily[] {
  const per = (f: (s: DialSessionStatus) => number) => dials.flatMap((d) => d.sessions.map((s) => ({ labels: { dial: d.name, link: s.link }, value: f(s) })));
  return [
    { name: 'wanbraid_dial_sessions', help: 'Sessions configured per dial.', type: 'gauge', samples: dials.map((d) => ({ labels: { dial: d.name }, value: d.total })) },
    { name: 'wanbraid_dial_sessions_up', help: 'Sessions up (with an address) per dial.', type: 'gauge', samples: dials.map((d) => ({ labels: { dial: d.name }, value: d.up })) },
    { name: 'wanbraid_dial_session_up', help: '1 while the session is up.', type: 'gauge', samples: per((s) => (s.state === 'up' ? 1 : 0)) },
    { name: 'wanbraid_dial_session_attempts_total', help: 'Times the session was dialled (the first one included).', type: 'counter', samples: per((s) => s.attempts) },
  ];
}
