/**
 * What `wanbraid status` shows about the relay: per entry and per exit session, the paths with
 * state, RTT, throughput, bytes, resent chunks, reorder buffer use and active flows; per
 * forwarding hop, connections and bytes. {@link RelayStatus} is plain JSON (for `--json` and the
 * control socket); {@link formatRelayStatus} is the human table. Pure.
 *
 * Units: bytes, bits per second (throughput), milliseconds.
 */
import { formatBytes, table } from '../cli/table.js';
import type { MuxStatus } from './core/mux.js';

export const PATH_STATES = ['up', 'connecting', 'down', 'unused'] as const;
/**
 * - up: authenticated and carrying chunks.
 * - connecting: a connection or handshake is under way.
 * - down: the last attempt failed or the path died; retried with backoff.
 * - unused: its link is offline or has no address for the exit's family; not tried.
 */
export type PathState = (typeof PATH_STATES)[number];

export interface RelayPathStatus {
  name: string;
  state: PathState;
  /** Why it is not up: the last failure, or the link's state. */
  reason?: string;
  /** Source address the path binds (link paths). */
  local?: string;
  /** Where it connects: the exit, or the forwarding hop (`via`). For exit sessions: the peer seen. */
  remote: string;
  /** Smoothed round trip through the path (ms). */
  rttMs?: number;
  /** Smallest round trip over the last 10 s (ms): the path without queues. */
  minRttMs?: number;
  /** Delivery rate the path measured (bit/s, max over the last 2 s or 16 round trips), which caps and paces it; 0 before a sample. */
  deliveryBps: number;
  /** Throughput over the last second (bit/s), each direction. */
  txBps: number;
  rxBps: number;
  /** Bytes on the wire since the path came up. */
  txBytes: number;
  rxBytes: number;
  /** Chunks sent on this path that had to be sent again on others because it failed. */
  resentChunks: number;
  /** Bytes in flight and the path's current in-flight cap. */
  inflight: number;
  cap: number;
  /** Milliseconds in the current state. */
  forMs: number;
}

/** A session's counters: the engine's (core/mux.ts {@link MuxStatus}) without its paths. */
export type RelaySessionCounters = Omit<MuxStatus, 'paths'>;

export interface RelayEntryStatus extends RelaySessionCounters {
  name: string;
  listen: string;
  /** Fixed target, or "transparent" (original destination of each connection). */
  target: string;
  exit: string;
  paths: RelayPathStatus[];
  /** User connections accepted since start. */
  accepted: number;
}

export interface RelayExitSessionStatus extends RelaySessionCounters {
  /** The entry's name as it introduced itself. */
  entry: string;
  /** First 8 hex digits of the session id. */
  session: string;
  paths: RelayPathStatus[];
}

export interface RelayExitStatus {
  listen: string;
  sessions: RelayExitSessionStatus[];
  /** Opens refused by the allow-list, since start. */
  refused: number;
  /** Connections that failed the handshake (wrong key, garbage, timeouts), since start. */
  rejected: number;
  /** Target connections that failed, since start. */
  connectFailed: number;
  /** Speed-test streams: served now, served since start, whether `relay.exit.speedtest` is on. */
  tests: { running: number; served: number; enabled: boolean };
}

export interface ForwardStatus {
  name: string;
  listen: string;
  to: string;
  connections: number;
  /** Bytes forwarded since start, both directions. */
  bytes: number;
}

export interface RelayStatus {
  entries: RelayEntryStatus[];
  exit: RelayExitStatus | undefined;
  forwards: ForwardStatus[];
}

// ---------------------------------------------------------------------------------------------
// Human table

export { formatBytes };

export function formatRate(bps: number): string {
  if (bps < 1000) return `${Math.round(bps)}bit/s`;
  const units = ['kbit/s', 'Mbit/s', 'Gbit/s'];
  let v = bps / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

function pathRows(paths: RelayPathStatus[]): string[] {
  if (paths.length === 0) return ['    (no paths)'];
  const rows = paths.map((p) => [
    p.name,
    p.state === 'up' ? 'up' : `${p.state}${p.reason ? `: ${p.reason}` : ''}`,
    p.rttMs === undefined ? '-' : `${p.rttMs < 10 ? p.rttMs.toFixed(1) : Math.round(p.rttMs)}ms`,
    p.deliveryBps > 0 ? formatRate(p.deliveryBps) : '-',
    formatRate(p.txBps),
    formatRate(p.rxBps),
    formatBytes(p.txBytes),
    formatBytes(p.rxBytes),
    String(p.resentChunks),
    formatDuration(p.forMs),
  ]);
  // CAPACITY: the delivery rate the path measured in our sending direction (what caps and paces it).
  return table(['PATH', 'STATE', 'RTT', 'CAPACITY', 'TX', 'RX', 'SENT', 'RECEIVED', 'RESENT', 'FOR'], rows)
    .split('\n')
    .map((l) => `    ${l}`);
}

function counters(c: RelaySessionCounters): string {
  const pct = c.reorderLimit > 0 ? Math.round((100 * c.reorderBytes) / c.reorderLimit) : 0;
  return `flows ${c.flows}${c.opening ? ` (${c.opening} opening)` : ''}, reorder ${formatBytes(c.reorderBytes)} (${pct}% of one flow's ${formatBytes(c.reorderLimit)}), unacked ${formatBytes(c.unackedBytes)}, resent ${c.resentChunks} chunks, duplicates dropped ${c.duplicateChunks}`;
}

/** The relay section of `wanbraid status`. Empty string when nothing relay-related is configured. */
export function formatRelayStatus(s: RelayStatus): string {
  const out: string[] = [];
  for (const e of s.entries) {
    const up = e.paths.filter((p) => p.state === 'up').length;
    out.push(`relay entry ${e.name}: ${e.listen} → ${e.target} via exit ${e.exit}, ${up}/${e.paths.length} paths up, ${e.accepted} connections accepted`);
    out.push(`  ${counters(e)}`);
    out.push(...pathRows(e.paths));
  }
  if (s.exit) {
    const x = s.exit;
    out.push(`relay exit: ${x.listen}, ${x.sessions.length} session${x.sessions.length === 1 ? '' : 's'}, refused ${x.refused} opens, rejected ${x.rejected} connections, ${x.connectFailed} target connects failed${x.tests.enabled ? `, ${x.tests.served} test streams served` : ''}`);
    for (const se of x.sessions) {
      out.push(`  session ${se.session} from entry ${se.entry}: ${counters(se)}`);
      out.push(...pathRows(se.paths).map((l) => `  ${l}`));
    }
  }
  if (s.forwards.length > 0) {
    out.push('forwards:');
    out.push(
      ...table(
        ['NAME', 'LISTEN', 'TO', 'CONNECTIONS', 'BYTES'],
        s.forwards.map((f) => [f.name, f.listen, f.to, String(f.connections), formatBytes(f.bytes)]),
      )
        .split('\n')
        .map((l) => `  ${l}`),
    );
  }
  return out.join('\n');
}
