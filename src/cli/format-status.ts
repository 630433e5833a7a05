/**
 * The human rendering of the status object (pure, so it is tested without a daemon). Columns that
 * a subsystem did not fill in show "-". One table of links (health and balancing side by side),
 * then the targets of links that are not online, the plan line ("plan failed: …" in red on a
 * terminal while applies fail and are retried), the warnings, the dials (per session: state,
 * address, uptime, attempts, last error) and the relay.
 */
import type { LinkStatus, StatusObject } from '../status/types.js';
import { formatRelayStatus, type RelayStatus } from '../relay/relay.js';
import type { SpeedTestResult } from '../relay/speedtest-plan.js';
import { speedTestSummary } from './format-speedtest.js';
import { ago, fmtNum, fmtShare, formatBytes, table } from './table.js';
import type { PlanStatus } from '../daemon/plan-retry.js';
import { formatDialStatus, type DialStatus } from '../dial/status.js';

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

interface PassiveRow {
  enabled: boolean;
  state: 'idle' | 'watching' | 'suspect';
  thresholdMs: number;
  backoff: number;
  suspicions: number;
  confirmed: number;
  cleared: number;
  last?: { at: string; silenceMs: number; outcome?: string; detail?: string };
}

/** "3 suspicions (1 confirmed, 2 cleared), threshold 600 ms; last 2m ago: silent 320 ms, confirmed (6/6 burst probes lost)". */
export function passiveText(p: PassiveRow, now: number): string {
  const head = `${p.suspicions} suspicion${p.suspicions === 1 ? '' : 's'} (${p.confirmed} confirmed, ${p.cleared} cleared)${p.state === 'suspect' ? ', suspect now' : ''}, threshold ${p.thresholdMs} ms`;
  if (!p.last) return head;
  const outcome = p.last.outcome ?? (p.state === 'suspect' ? 'burst in flight' : 'undecided');
  return `${head}; last ${ago(now - Date.parse(p.last.at))} ago: silent ${p.last.silenceMs} ms, ${outcome}${p.last.detail ? ` (${p.last.detail})` : ''}`;
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

/** Failed applies shown in the plan line; the rest are counted ("and N more"). */
const PLAN_LINES = 3;

/** "plan failed: <first failures> (N attempts in a row since Xs ago, next retry in Ys)". */
export function planFailedText(p: PlanStatus, now: number): string {
  const shown = p.failures.slice(0, PLAN_LINES).join('; ');
  const more = p.failures.length > PLAN_LINES ? `; and ${p.failures.length - PLAN_LINES} more` : '';
  const retry = p.nextRetryAt ? `, next retry in ${ago(Date.parse(p.nextRetryAt) - now)}` : '';
  return `plan failed: ${shown}${more} (${p.consecutiveFailures} failed appl${p.consecutiveFailures === 1 ? 'y' : 'ies'} in a row since ${ago(now - Date.parse(p.since))} ago${retry})`;
}

const COLORS = { red: 31 } as const;

/** ANSI colour for a terminal; plain text otherwise. */
export function paint(text: string, color: keyof typeof COLORS, on: boolean): string {
  return on ? `\x1b[${COLORS[color]}m${text}\x1b[0m` : text;
}

export interface FormatOptions {
  /** Colour the plan failure (a terminal that takes colour). */
  color?: boolean;
}

export function formatStatus(st: StatusObject, now: number, opts: FormatOptions = {}): string {
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
    // The passive signal, for links that have been suspect at least once.
    const passive = st.links.flatMap((l) => {
      const p = l.passive as PassiveRow | undefined;
      return p && (p.suspicions > 0 || p.state === 'suspect') ? [`  ${l.name}: ${passiveText(p, now)}`] : [];
    });
    if (passive.length > 0) out.push('', 'passive signal (traffic out, nothing in):', ...passive);
  }
  const bal = st.balancer as { lastApply?: { at: string; ok: boolean; durationMs: number; failures: string[] }; warnings: string[] } | undefined;
  const plan = st.plan as PlanStatus | undefined;
  if (bal || plan) {
    const la = bal?.lastApply;
    out.push('');
    if (plan?.state === 'failed') out.push(paint(planFailedText(plan, now), 'red', opts.color === true));
    else out.push(la ? `plan: last applied ${ago(now - Date.parse(la.at))} ago in ${la.durationMs} ms, ${la.ok ? 'ok' : `with failures: ${la.failures.join('; ')}`}` : 'plan: not applied yet');
    for (const w of bal?.warnings ?? []) out.push(`warning: ${w}`);
  }
  const dials = st.dials as DialStatus[] | undefined;
  if (dials && dials.length > 0) {
    out.push('');
    out.push(formatDialStatus(dials, now));
  }
  const relay = st.relay as RelayStatus | undefined;
  if (relay && (relay.entries.length > 0 || relay.exit || relay.forwards.length > 0)) {
    out.push('');
    out.push(formatRelayStatus(relay));
  }
  const speed = st.speedtest as SpeedTestResult | undefined;
  if (speed) {
    out.push('');
    out.push(speedTestSummary(speed));
  }
  return out.join('\n');
}
