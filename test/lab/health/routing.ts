/**
 * What the planner will own, done by hand for health's lab tests and benchmarks: per link a table
 * with the default route via the link's gateway, and `from <link address> lookup <table>` rules,
 * so that probes sent from a link's address leave through that link (DESIGN.md: binding to a
 * device is not a health check).
 */
import type { WanLinkAddressing } from '../../../src/lab/addressing.js';
import { exec } from '../../../src/util/exec.js';

export const TABLE_BASE = 100;
export const RULE_PRIORITY_BASE = 1000;

/** `ip` batch lines per family (router namespace) for one link's table and source rules. */
export interface RoutingLines {
  ip4: string[];
  ip6: string[];
}

export function linkRouting(l: WanLinkAddressing, source4 = l.router4, source6 = l.router6): RoutingLines {
  const table = TABLE_BASE + l.index;
  const prio = RULE_PRIORITY_BASE + l.index;
  return {
    ip4: [`route replace default via ${l.gateway4} dev ${l.iface} table ${table}`, `rule add from ${source4} lookup ${table} priority ${prio}`],
    ip6: [`route replace default via ${l.gateway6} dev ${l.iface} table ${table}`, `rule add from ${source6} lookup ${table} priority ${prio}`],
  };
}

/** Apply routing lines in a namespace (`ip -batch`, and `ip -6 -batch` for the IPv6 ones). */
export async function applyRouting(ns: string, lines: RoutingLines[]): Promise<void> {
  const ip4 = lines.flatMap((l) => l.ip4);
  const ip6 = lines.flatMap((l) => l.ip6);
  if (ip4.length) await exec(['ip', '-n', ns, '-batch', '-'], { input: ip4.join('\n') + '\n' });
  if (ip6.length) await exec(['ip', '-6', '-n', ns, '-batch', '-'], { input: ip6.join('\n') + '\n' });
}

/** A link's `links:` entry with default probe settings (ICMP to the lab's two IPv4 track IPs). */
export function linkConfig(l: WanLinkAddressing, probe: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: l.name,
    interface: l.iface,
    gateway: [l.gateway4, l.gateway6],
    probe: { targets: ['198.19.0.1', '198.19.0.2'], ...probe },
    ...extra,
  };
}
