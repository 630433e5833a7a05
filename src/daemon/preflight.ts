/**
 * Preflight, the pure half: which tools and kernel features a configuration needs, and how a
 * missing one is said. `wanbraid run` refuses to start when one is missing (before the socket or
 * the kernel is touched) and `wanbraid check` lists them under "system"; both probe the system
 * through ./preflight-probe.ts and word the outcome here, so they say the same thing.
 *
 * What needs what (read from the code that uses it):
 * - `nft` (Debian package nftables): the balancer drives `table inet wanbraid` through
 *   `nft -j -f`; needed whenever `links:` is not empty. A relay-only configuration has no balancer
 *   and needs no nft.
 * - the kernel's nftables `table inet` with what wanbraid's table uses (ct mark, numgen, maps,
 *   nat): proven by `nft --check` of the very table the daemon would install first, which the kernel
 *   validates and then discards. Same condition as nft.
 * - libnftables (Debian package libnftables1, a dependency of nftables) and the native addon that
 *   loads it: the balancer's element updates and reads go through a kept context
 *   (kernel/nft/session.ts). Same condition as nft.
 * - nexthop objects (Linux 5.3; resilient groups 5.13): only when routes go over nexthop groups,
 *   i.e. `routing.groupType: resilient`, or `auto` on a kernel that has resilient groups
 *   (otherwise auto uses RTA_MULTIPATH routes, which every kernel has).
 * - conntrack netlink (nf_conntrack_netlink): the balancer flushes a dead link's connections by
 *   mark over ctnetlink itself, so only with `routing.flushConntrack`. The `conntrack` tool is not
 *   used by the daemon.
 * - the native addon (build/Release/wanbraid_native.node): the libnftables context, ICMP probes (its raw ICMP socket),
 *   transparent relay entries (SO_ORIGINAL_DST), the failover nudges of `routing.resetDeadFlows`
 *   (raw IP with a mark) and sd_notify when systemd sets NOTIFY_SOCKET.
 *
 * Each requirement has a stable `id` (callers and `check --json` branch on it, never on text).
 */
import type { Config } from '../config/schema.js';
import { kernelHasResilientGroups } from '../kernel/rtnl-backend.js';

export const REQUIREMENT_IDS = ['nft', 'nft-table', 'libnftables', 'nexthop', 'ctnetlink', 'native', 'ip', 'dhcpcd', 'pppd', 'ppp-kernel', 'dial-parent', 'dial-secret'] as const;
export type RequirementId = (typeof REQUIREMENT_IDS)[number];

export interface Requirement {
  id: RequirementId;
  /** What it is, for people ("nft", "nexthop objects"). */
  what: string;
  /** What in the configuration (or the environment) needs it. */
  neededBy: string[];
  /** How to get it: the Debian package, or the setting that avoids needing it. */
  remedy: string;
  /** Decided without probing (a kernel too old by its release): the probe is not run. */
  known?: ProbeOutcome;
  /** The interface (dial-parent) or file (dial-secret) the probe looks at. */
  subject?: string;
}

/**
 * ok: present; missing: absent or refused (the daemon would not work); skipped: could not be
 * checked here (not root, or something it depends on is missing and reported on its own line).
 */
export type ProbeStatus = 'ok' | 'missing' | 'skipped';

export interface ProbeOutcome {
  status: ProbeStatus;
  /** What was found: a version, a path, the error. One line. */
  detail: string;
}

export interface SystemCheck extends ProbeOutcome {
  id: RequirementId;
  what: string;
  neededBy: string[];
  remedy: string;
}

export interface SystemReport {
  /** No check is missing (skipped ones do not count against it). */
  ok: boolean;
  checks: SystemCheck[];
}

/** What the environment says without probing. */
export interface SystemEnv {
  /** `uname -r`. */
  kernelRelease: string;
  /** systemd set NOTIFY_SOCKET: READY=1 goes through the addon. */
  notify: boolean;
  /** Node's `process.arch`, for the name of Debian's kernel package. */
  arch: string;
}

/** Debian's kernel metapackage for a Node architecture. */
export function kernelPackage(arch: string): string {
  const debian: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '686', arm: 'armmp', ppc64: 'powerpc64le', s390x: 's390x', riscv64: 'riscv64' };
  return `linux-image-${debian[arch] ?? arch}`;
}

/** The requirements of `cfg` in this environment, in the order they are probed (nft before its table). */
export function requirements(cfg: Config, env: SystemEnv): Requirement[] {
  const out: Requirement[] = [];
  const kernelPkg = kernelPackage(env.arch);
  const links = cfg.links.map((l) => l.name);
  if (links.length > 0) {
    const balancing = `balancing (links ${links.join(', ')})`;
    out.push({ id: 'nft', what: 'nft', neededBy: [balancing], remedy: 'install the Debian package nftables' });
    out.push({
      id: 'nft-table',
      what: 'nftables table inet',
      neededBy: [balancing],
      remedy: `needs a kernel with nf_tables (inet family, ct, nat, numgen, maps): Debian's ${kernelPkg} has them as modules`,
    });
    out.push({
      id: 'libnftables',
      what: 'libnftables',
      neededBy: [`${balancing}: element updates and reads without an nft process per change`],
      remedy: 'install the Debian package libnftables1 (nftables depends on it) and build the native addon with `npm run build`',
    });
    const g = cfg.routing.groupType;
    const resilientKernel = kernelHasResilientGroups(env.kernelRelease);
    if (g === 'resilient' || (g === 'auto' && resilientKernel)) {
      const req: Requirement = {
        id: 'nexthop',
        what: 'nexthop objects',
        neededBy: [g === 'resilient' ? 'routing.groupType: resilient' : `routing.groupType: auto (resilient groups on kernel ${env.kernelRelease})`],
        remedy: `needs Linux 5.13 or later (Debian 12's ${kernelPkg} is 6.1), or set routing.groupType: multipath`,
      };
      if (!resilientKernel) req.known = { status: 'missing', detail: `kernel ${env.kernelRelease} has no resilient nexthop groups (Linux 5.13)` };
      out.push(req);
    }
    if (cfg.routing.flushConntrack) {
      out.push({
        id: 'ctnetlink',
        what: 'conntrack netlink',
        neededBy: ['routing.flushConntrack'],
        remedy: `needs a kernel with nf_conntrack_netlink (Debian's ${kernelPkg} has it as a module), or set routing.flushConntrack: false`,
      });
    }
  }
  out.push(...dialRequirements(cfg, kernelPkg));
  const native: string[] = [];
  const icmp = cfg.links.filter((l) => l.probe?.method === 'icmp').map((l) => l.name);
  if (icmp.length > 0) native.push(`icmp probes (links ${icmp.join(', ')})`);
  for (const e of cfg.relay?.entries ?? []) if (!e.target) native.push(`transparent relay entry ${e.name}`);
  if (links.length > 0) native.push('the libnftables context (balancing)');
  if (links.length > 0 && cfg.routing.flushConntrack && cfg.routing.resetDeadFlows && (cfg.lan?.interfaces.length ?? 0) > 0) native.push('routing.resetDeadFlows');
  if (env.notify) native.push('sd_notify (NOTIFY_SOCKET is set)');
  if (native.length > 0) {
    out.push({
      id: 'native',
      what: 'native addon',
      neededBy: native,
      remedy: 'build it with `npm run build` (Debian packages make, g++ and python3), or reinstall wanbraid',
    });
  }
  return out;
}

/**
 * What `dials:` needs: `ip` (iproute2) for the macvlans; dhcpcd (Debian dhcpcd-base) for DHCP
 * sessions; pppd with its PPPoE plugin (Debian ppp) and a kernel with PPP (/dev/ppp) for PPPoE
 * sessions; each dial's parent interface in this network namespace; each PPPoE password file,
 * readable by root and by nobody else. A PPPoE dial on a kernel without PPP is refused at start,
 * never half-run.
 */
function dialRequirements(cfg: Config, kernelPkg: string): Requirement[] {
  if (cfg.dials.length === 0) return [];
  const out: Requirement[] = [];
  const all = cfg.dials.map((d, i) => `dials[${i}] (${d.name})`);
  out.push({ id: 'ip', what: 'ip', neededBy: all, remedy: 'install the Debian package iproute2 (creates the sessions\' macvlans)' });
  const dhcp = cfg.dials.flatMap((d, i) => (d.method === 'dhcp' ? [`dials[${i}] (${d.name}, method dhcp)`] : []));
  if (dhcp.length > 0) out.push({ id: 'dhcpcd', what: 'dhcpcd', neededBy: dhcp, remedy: 'install the Debian package dhcpcd-base' });
  const pppoe = cfg.dials.flatMap((d, i) => (d.method === 'pppoe' ? [`dials[${i}] (${d.name}, method pppoe)`] : []));
  if (pppoe.length > 0) {
    out.push({ id: 'pppd', what: 'pppd and its PPPoE plugin', neededBy: pppoe, remedy: 'install the Debian package ppp' });
    out.push({
      id: 'ppp-kernel',
      what: 'kernel PPP support (/dev/ppp)',
      neededBy: pppoe,
      remedy: `needs a kernel with CONFIG_PPP and CONFIG_PPPOE (Debian's ${kernelPkg} has them as modules: modprobe pppoe), or use method: dhcp`,
    });
  }
  cfg.dials.forEach((d, i) => {
    out.push({ id: 'dial-parent', what: `interface ${d.parent}`, neededBy: [`dials[${i}].parent`], remedy: 'name an existing interface of this host (the WAN port or VLAN the sessions dial over)', subject: d.parent });
    if (d.pppoe)
      out.push({ id: 'dial-secret', what: `password file ${d.pppoe.passwordFile}`, neededBy: [`dials[${i}].pppoe.passwordFile`], remedy: `a regular file readable by root only: chmod 600 ${d.pppoe.passwordFile}`, subject: d.pppoe.passwordFile });
  });
  return out;
}

/** Why a password file with this stat is not acceptable, or undefined when it is. Pure. */
export function secretFileProblem(st: { isFile: boolean; mode: number; size: number }): string | undefined {
  if (!st.isFile) return 'is not a regular file';
  if ((st.mode & 0o077) !== 0) return `is readable or writable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`;
  if (st.size === 0) return 'is empty';
  if (st.size > 4096) return `is ${st.size} bytes (a password is one line)`;
  return undefined;
}

/** One check's outcome joined with its requirement. */
export function systemCheck(req: Requirement, outcome: ProbeOutcome): SystemCheck {
  return { id: req.id, what: req.what, neededBy: [...req.neededBy], remedy: req.remedy, status: outcome.status, detail: outcome.detail };
}

export function systemReport(checks: SystemCheck[]): SystemReport {
  return { ok: checks.every((c) => c.status !== 'missing'), checks };
}

/** The one line a missing requirement gets: what, what was found, what needs it, how to get it. */
export function problemLine(c: SystemCheck): string {
  return `${c.what}: ${c.detail}; needed by ${c.neededBy.join(', ')}; ${c.remedy}`;
}

/** The lines of every missing requirement (empty when the report is ok). */
export function problems(r: SystemReport): string[] {
  return r.checks.filter((c) => c.status === 'missing').map(problemLine);
}
