/**
 * The DHCP client of a session: dhcpcd (Debian's `dhcpcd-base`), run once per session with a
 * private configuration file and a private hook script. Pure: the texts and argv, and the parser
 * of the hook's report lines.
 *
 * wanbraid owns routing and DNS, so dhcpcd is told to leave them alone: `nogateway` (no default
 * route), no IPv4LL, no ARP probing (which would delay every lease by seconds), `clientid` (the
 * session's stable MAC identifies it to the server), and `--script HOOK` instead of
 * dhcpcd-run-hooks, so no system hook (resolv.conf, hostname, ntp) runs. dhcpcd itself still adds
 * the leased address and its subnet route on the session's macvlan, renews the lease, and gets a
 * lost one back. The hook prints one line per event on dhcpcd's stdout, which the supervisor
 * reads (bounded): `@wanbraid-lease REASON ADDRESS PREFIXLEN ROUTER` (`-` for an empty value).
 */
import { ipFamily } from '../config/values.js';
import type { Lease } from './session.js';

export const LEASE_MARKER = '@wanbraid-lease';

export function dhcpcdConfig(dial: string, index: number): string {
  return [
    `# wanbraid dial ${dial}, session ${index}: written by wanbraid at each start; wanbraid owns routes and DNS.`,
    'nogateway',
    'noipv4ll',
    'noarp',
    'nodelay',
    'clientid',
    'ipv4only',
    'noipv6rs',
    '',
  ].join('\n');
}

/** The hook (run by dhcpcd as root with its usual environment: reason, new_ip_address, …). */
export function dhcpcdHook(): string {
  return [
    '#!/bin/sh',
    '# wanbraid: report each DHCP event to the daemon on dhcpcd\'s stdout; change nothing.',
    'r="${new_routers%% *}"',
    `printf '${LEASE_MARKER} %s %s %s %s\\n' "\${reason:--}" "\${new_ip_address:--}" "\${new_subnet_cidr:--}" "\${r:--}"`,
    '',
  ].join('\n');
}

export function dhcpcdArgv(iface: string, configFile: string, hookFile: string, dhcpcd = 'dhcpcd'): string[] {
  return [dhcpcd, '--nobackground', '--config', configFile, '--script', hookFile, '--ipv4only', '--timeout', '0', iface];
}

/** What one hook line means for the session. */
export type DhcpReport = { kind: 'lease'; lease: Lease } | { kind: 'lost'; error: string } | { kind: 'ignore' };

/** Reasons that mean the session has no address now, in words. */
const LOST: Record<string, string> = {
  NOCARRIER: 'carrier lost',
  NOCARRIER_ROAMING: 'carrier lost',
  EXPIRE: 'the DHCP lease expired without renewal',
  NAK: 'the DHCP server refused the lease (NAK)',
  TIMEOUT: 'no offer from a DHCP server',
  FAIL: 'DHCP failed',
  RELEASE: 'the lease was released',
  STOP: 'the DHCP client stopped',
  STOPPED: 'the DHCP client stopped',
  DEPARTED: 'the interface went away',
};
const BOUND = new Set(['BOUND', 'RENEW', 'REBIND', 'REBOOT']);

/** Parse one line of dhcpcd's stdout; undefined when it is not a hook report. */
export function parseHookLine(line: string): DhcpReport | undefined {
  if (!line.startsWith(LEASE_MARKER + ' ')) return undefined;
  const [reason = '', addr = '-', cidr = '-', router = '-'] = line.slice(LEASE_MARKER.length + 1).trim().split(' ');
  if (BOUND.has(reason)) {
    const prefixLen = Number(cidr);
    if (ipFamily(addr) !== 4 || !Number.isInteger(prefixLen) || prefixLen < 1 || prefixLen > 32) return { kind: 'lost', error: `the DHCP lease (${reason}) has no usable address` };
    if (ipFamily(router) !== 4) return { kind: 'lost', error: 'the DHCP lease names no router' };
    return { kind: 'lease', lease: { address: addr, prefixLen, router } };
  }
  const lost = LOST[reason];
  return lost ? { kind: 'lost', error: lost } : { kind: 'ignore' };
}
