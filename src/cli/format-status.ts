/**
 * The human rendering of the status object (pure, so it is tested without a daemon). Columns that
 * a subsystem did not fill in show "-". One table of links (health and balancing side by side),
 * then the targets of links that are not online, the warnings, and the relay.
 */
import type { LinkStatus, StatusObject } from '../status/types.js';
import { formatRelayStatus, type RelayStatus } from '../relay/relay.js';
import { ago, fmtNum, fmtShare, formatBytes, table } from './table.js';

interface TargetRow {
  target: string;
  last?: { ok: boolean; rttMs?: number; error?: string } | undefined;
}
interface Balance {
  inUse: boolean;
  newFlows: number;
  newFlowShare?: number;
  bytes: number;
  byteShare?: number;
  warning?: string;
}
interface Override {
  action: string;
  source: string;
  until?: string;
}

function stateText(l: LinkStatus, now: number): string {
  const o = l.override as Override | undefined;
  if (!o) return l.state;
  const until = o.until ? ` until ${new Date(o.until).toISOString().slice(11, 16)}Z (${ago(Date.parse(o.until) - now)})` : '';
  return `${l.state} [${o.source} ${o.action}${until}]`;
}

function targetsText(l: LinkStatus): string {
  const t = l.targets as TargetRow[] | undefined;
  if (!t || t.length === 0) return '-';
  return `${t.filter((x) => x.last?.ok).length}/${t.length}`;
}

function weightText(now: number, configured: number): string {
  return now === configured ? String(now) : `${now}/${configured}`;
}

export function formatStatus(st: StatusObject, now: number): string {
  const out: string[] = [];
  out.push(`wanbraid ${st.version}, pid ${st.pid}, up ${ago(now - Date.parse(st.startedAt))}, config ${st.config.file} (loaded ${ago(now - Date.parse(st.config.loadedAt))} ago)`);
  out.push('');
  if (st.links.length === 0) out.push('no links configured');
  else {
    out.push(
      table(
        ['LINK', 'DEVICE', 'STATE', 'SINCE', 'RTT', 'LOSS', 'JITTER', 'TARGETS', 'WEIGHT', 'FLOWS', 'BYTES', 'REASON'],
        st.links.map((l) => {
          const b = l.balance as Balance | undefined;
          return [
            l.name,
            l.interface,
            stateText(l, now),
            ago(now - Date.parse(l.since)),
            fmtNum(l.rttMs, 1, 'ms'),
            fmtNum(l.lossPct, 1, '%'),
            fmtNum(l.jitterMs, 1, 'ms'),
            targetsText(l),
            weightText(l.weight, l.configuredWeight),
            b ? `${b.newFlows} (${fmtShare(b.newFlowShare)})` : '-',
            b ? `${formatBytes(b.bytes)} (${fmtShare(b.byteShare)})` : '-',
            l.reason,
          ];
        }),
      ),
    );
    // Targets of links that are not fully answering: which one fails and why.
    const failing = st.links.flatMap((l) =>
      ((l.targets as TargetRow[] | undefined) ?? []).filter((t) => t.last && !t.last.ok).map((t) => `  ${l.name} ${t.target}: ${t.last?.error ?? 'no answer'}`),
    );
    if (failing.length > 0) out.push('', 'failing targets:', ...failing);
  }
  const bal = st.balancer as { lastApply?: { at: string; ok: boolean; durationMs: number; failures: string[] }; warnings: string[] } | undefined;
  if (bal) {
    const la = bal.lastApply;
    out.push('');
    out.push(la ? `plan: last applied ${ago(now - Date.parse(la.at))} ago in ${la.durationMs} ms, ${la.ok ? 'ok' : `with failures: ${la.failures.join('; ')}`}` : 'plan: not applied yet');
    for (const w of bal.warnings) out.push(`warning: ${w}`);
  }
  const relay = st.relay as RelayStatus | undefined;
  if (relay && (relay.entries.length > 0 || relay.exit || relay.forwards.length > 0)) {
    out.push('');
    out.push(formatRelayStatus(relay));
  }
  return out.join('\n');
}
