/**
 * The human rendering of the status object (pure, so it is tested without a daemon). Columns that
 * a subsystem did not fill in show "-".
 */
import type { StatusObject } from '../status/types.js';
import { ago, table } from './table.js';

export function formatStatus(st: StatusObject, now: number): string {
  const out: string[] = [];
  out.push(`wanbraid ${st.version}, pid ${st.pid}, up ${ago(now - Date.parse(st.startedAt))}, config ${st.config.file} (loaded ${ago(now - Date.parse(st.config.loadedAt))} ago)`);
  out.push('');
  if (st.links.length === 0) out.push('no links configured');
  else
    out.push(
      table(
        ['LINK', 'DEVICE', 'STATE', 'SINCE', 'WEIGHT', 'REASON'],
        st.links.map((l) => [l.name, l.interface, l.state, `${ago(now - Date.parse(l.since))} ago`, weightText(l.weight, l.configuredWeight), l.reason]),
      ),
    );
  return out.join('\n');
}

function weightText(now: number, configured: number): string {
  return now === configured ? String(now) : `${now}/${configured}`;
}
