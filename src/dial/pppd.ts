/**
 * The PPPoE client of a session: the exact `pppd` command line, what its exit codes mean, and
 * what its log lines say. Pure.
 *
 * wanbraid owns routing, DNS and redialling, so pppd is told to do none of them: no
 * `defaultroute` (and `nodefaultroute`), no `usepeerdns`, no `persist` (one attempt per process;
 * the supervisor redials with its backoff), `maxfail 1`, and every ip-up/down hook pointed at
 * `/bin/true` so that no system script (/etc/ppp/ip-up.d) changes routes or resolv.conf. `nodetach`
 * keeps it the supervisor's child (ended by PID); LCP echo every second with three misses detects a
 * dead session in about three seconds. The interface name is stable (`ifname wbp-NAME<i>`).
 *
 * The password never appears on the command line, in the environment or in a file: pppd's
 * `passwordfd` plugin reads it from file descriptor {@link PASSWORD_FD}, a pipe the supervisor
 * writes once and closes. `hide-password` keeps it out of pppd's own debug output.
 */

/** The pipe pppd reads the password from (the child's fd 3: stdin, stdout, stderr, then this). */
export const PASSWORD_FD = 3;

/** The PPPoE plugin as Debian 12's ppp 2.4.9 ships it (rp-pppoe.so is a link to it). */
export const PPPOE_PLUGIN = 'pppoe.so';

export interface PppdSpec {
  /** The macvlan the session's discovery runs on. */
  nic: string;
  /** The PPP interface's name. */
  ifname: string;
  username: string;
  /** MTU and MRU of the session (1492 on most PPPoE lines). */
  mtu: number;
}

export function pppdArgv(s: PppdSpec, pppd = 'pppd'): string[] {
  return [
    pppd,
    'nodetach',
    'plugin', PPPOE_PLUGIN,
    `nic-${s.nic}`,
    'ifname', s.ifname,
    'user', s.username,
    'plugin', 'passwordfd.so',
    'passwordfd', String(PASSWORD_FD),
    'hide-password',
    'noauth',
    'nodefaultroute',
    'noreplacedefaultroute',
    'noipdefault',
    'noipv6',
    'mtu', String(s.mtu),
    'mru', String(s.mtu),
    'lcp-echo-interval', '1',
    'lcp-echo-failure', '3',
    'maxfail', '1',
    'holdoff', '0',
    'nodeflate',
    'nobsdcomp',
    'novj',
    'ip-up-script', '/bin/true',
    'ip-down-script', '/bin/true',
    'ipv6-up-script', '/bin/true',
    'ipv6-down-script', '/bin/true',
  ];
}

/** pppd's exit status in words (pppd(8), EXIT STATUS). */
export function pppdExitReason(code: number | null, signal?: string | null): string {
  if (code === null) return `pppd ended by signal ${signal ?? 'unknown'}`;
  const words: Record<number, string> = {
    0: 'the session ended (pppd exited normally)',
    1: 'pppd failed (fatal error: no PPP support in the kernel, or a system call failed)',
    2: 'pppd rejected its options',
    3: 'pppd is not setuid root and not run as root',
    4: 'the kernel has no PPP support (CONFIG_PPP, /dev/ppp)',
    5: 'pppd was stopped by a signal (SIGINT, SIGTERM or SIGHUP)',
    6: 'the PPP device could not be locked',
    7: 'the PPP device could not be opened',
    8: 'no offer from a PPPoE server (discovery failed)',
    9: 'the pty command failed',
    10: 'PPP negotiation failed (LCP or IPCP)',
    11: 'the peer did not authenticate itself',
    12: 'the session was idle and timed out',
    13: 'the connect time limit was reached',
    14: 'callback negotiated',
    15: 'the peer stopped answering LCP echo requests',
    16: 'the line hung up (PADT from the server, or the link dropped)',
    17: 'loopback detected',
    18: 'the init script failed',
    19: 'authentication failed (wrong username or password)',
  };
  return words[code] ?? `pppd exited with status ${code}`;
}

export type PppdLine = { kind: 'local'; address: string } | { kind: 'remote'; address: string } | { kind: 'other' };

/** pppd's "local  IP address A" and "remote IP address B" lines (stdout with `nodetach`). */
export function parsePppdLine(line: string): PppdLine {
  const m = /^(local|remote)\s+IP address (\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(line.trim());
  if (!m) return { kind: 'other' };
  return { kind: m[1] === 'local' ? 'local' : 'remote', address: m[2]! };
}
