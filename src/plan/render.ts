/**
 * `renderPlan(desired)`: the desired state as text for `wanbraid check --plan` — the policies'
 * choices, then ip rules, nexthops and routes per table in `ip(8)`'s own notation, then the nft
 * batch exactly as it would be fed to `nft -j -f -`. Pure.
 */
import { replaceTableBatch } from '../kernel/nft/table.js';
import type { DesiredState, NextHopSpec, RouteSpec, RuleSpec } from './types.js';

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const fam = (f: 4 | 6): string => (f === 4 ? 'IPv4' : 'IPv6');

export function formatRule(r: RuleSpec): string {
  const sel = r.src ? `from ${r.src.address}${r.src.len === (r.family === 4 ? 32 : 128) ? '' : `/${r.src.len}`}` : 'from all';
  const mark = r.fwmark ? ` fwmark ${hex(r.fwmark.value)}/${hex(r.fwmark.mask)}` : '';
  const table = r.table === 254 ? 'main' : String(r.table);
  const sup = r.suppressPrefixLength !== undefined ? ` suppress_prefixlength ${r.suppressPrefixLength}` : '';
  return `${r.priority}:\t${sel}${mark} lookup ${table}${sup} proto wanbraid`;
}

export function formatNexthop(n: NextHopSpec): string {
  if (n.kind === 'single') {
    return `id ${n.id} ${n.gateway !== undefined ? `via ${n.gateway} ` : ''}dev ${n.dev.name} proto wanbraid`;
  }
  const members = n.members.map((m) => `${m.id}${m.weight !== 1 ? `,${m.weight}` : ''}`).join('/');
  // ip-nexthop(8) gives the idle timer in seconds.
  return `id ${n.id} group ${members} type resilient buckets ${n.buckets} idle_timer ${n.idleTimerMs / 1000} proto wanbraid`;
}

export function formatRoute(r: RouteSpec): string {
  const dst = r.dst.len === 0 ? 'default' : `${r.dst.address}/${r.dst.len}`;
  const parts: string[] = [r.type === 'unicast' ? dst : `${r.type} ${dst}`];
  if (r.nhid !== undefined) parts.push(`nhid ${r.nhid}`);
  if (r.gateway !== undefined) parts.push(`via ${r.gateway}`);
  if (r.dev) parts.push(`dev ${r.dev.name}`);
  parts.push('proto wanbraid');
  if (r.scope === 'link') parts.push('scope link');
  if (r.prefsrc !== undefined) parts.push(`src ${r.prefsrc}`);
  let line = parts.join(' ');
  for (const leg of r.multipath ?? []) line += `\n\tnexthop ${leg.gateway !== undefined ? `via ${leg.gateway} ` : ''}dev ${leg.dev.name} weight ${leg.weight}`;
  return line;
}

export function renderPlan(d: DesiredState): string {
  const out: string[] = [];
  out.push('# policies');
  for (const p of d.policies) {
    const head = `${p.name}${p.name === d.defaultPolicy ? ' (default)' : ''}`;
    if (p.relay) {
      out.push(`${head}: TCP to relay entry ${p.relay.entry} (port ${p.relay.port})${p.relay.quic === 'fallback' ? '; its QUIC (UDP/443) rejected, so clients fall back to TCP' : '; QUIC (UDP/443) passes'}`);
      continue;
    }
    for (const c of p.choices) {
      const total = c.members.reduce((s, m) => s + m.weight, 0);
      const what =
        c.members.length === 0
          ? `nothing usable: ${c.lastResort}`
          : `${c.tier === 0 ? 'weight-0 fallbacks' : `tier ${c.tier}`}: ` +
            c.members.map((m) => `${m.link} ${m.weight} (${((100 * m.weight) / total).toFixed(1)}%)`).join(', ');
      out.push(`${head} ${fam(c.family)}${p.sticky !== 'none' ? ` sticky ${p.sticky}` : ''}: ${what}`);
    }
  }
  for (const f of [4, 6] as const) {
    out.push('', `# ip ${f === 6 ? '-6 ' : ''}rule (${fam(f)})`);
    for (const r of d.rules.filter((x) => x.family === f)) out.push(formatRule(r));
    const nhs = d.nexthops.filter((n) => n.family === f);
    out.push('', `# ip ${f === 6 ? '-6 ' : ''}nexthop (${fam(f)})`);
    out.push(...(nhs.length > 0 ? nhs.map(formatNexthop) : ['(none)']));
    const byTable = new Map<number, RouteSpec[]>();
    for (const r of d.routes.filter((x) => x.family === f)) byTable.set(r.table, [...(byTable.get(r.table) ?? []), r]);
    for (const t of d.ownership.tables) {
      const link = d.links.find((l) => l.table === t);
      out.push('', `# ip ${f === 6 ? '-6 ' : ''}route show table ${t} (${link ? link.name : 'default route'})`);
      const rs = byTable.get(t) ?? [];
      out.push(...(rs.length > 0 ? rs.map(formatRoute) : ['(empty)']));
    }
  }
  out.push('', '# sysctl');
  for (const s of d.sysctls) out.push(`${s.key} = ${s.value}`);
  out.push('', '# nft -j -f - (one transaction)', JSON.stringify(replaceTableBatch(d.nft), null, 1));
  return out.join('\n') + '\n';
}
