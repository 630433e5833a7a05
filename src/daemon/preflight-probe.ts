/**
 * Preflight, the adapter: probes this host (in the caller's network namespace) for what
 * ./preflight.ts says the configuration needs. Changes nothing:
 * - nft: looked up on PATH, then `nft --version`;
 * - nftables table inet: `nft -j --check -f` of the table the daemon would install first (every
 *   link still probing): the kernel validates the whole transaction and then aborts it;
 * - libnftables: the library loaded through the native addon, and one read (`list tables`) through a
 *   kept context, which is how the balancer updates elements;
 * - nexthop objects: a nexthop dump (RTM_GETNEXTHOP), which a kernel without them refuses;
 * - conntrack netlink: a ctnetlink dump filtered by a mark no link uses (read-only);
 * - native addon: loaded (a dlopen; nothing is opened);
 * - dials: `ip`, dhcpcd and pppd looked up on PATH (and /usr/sbin), the PPPoE plugin under
 *   /usr/lib/pppd, /dev/ppp, each parent with `ip link show`, each password file's mode.
 * Probes that need CAP_NET_ADMIN (the nft check, ctnetlink) report `skipped` when refused with
 * EPERM: a user checking a file without root learns nothing false. Each probe is bounded in time.
 */
import { accessSync, constants as fsConstants, existsSync, readdirSync, statSync } from 'node:fs';
import { arch, release } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { errorMessage, KernelError } from '../errors.js';
import { Conntrack } from '../kernel/conntrack.js';
import { kernelHasResilientGroups } from '../kernel/rtnl-backend.js';
import { Nft } from '../kernel/nft/nft.js';
import { NftSession } from '../kernel/nft/session.js';
import { replaceTableBatch } from '../kernel/nft/table.js';
import { nexthop, RtnlClient } from '../kernel/rtnl/index.js';
import { DEFAULT_ADDON_PATH, nativeAddon } from '../native/addon.js';
import { plan } from '../plan/planner.js';
import { exec as defaultExec } from '../util/exec.js';
import { requirements, secretFileProblem, systemCheck, systemReport, type ProbeOutcome, type Requirement, type SystemCheck, type SystemEnv, type SystemReport } from './preflight.js';

export interface ProbeOptions {
  /** Environment (PATH, NOTIFY_SOCKET); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The native addon's file (default build/Release/wanbraid_native.node of this package). */
  addonPath?: string;
  /** Kernel release (default `uname -r`). */
  kernelRelease?: string;
  /** Milliseconds per probe (default 5000). */
  timeoutMs?: number;
}

/** Probes `cfg`'s requirements on this host. */
export type SystemProbe = (cfg: Config) => Promise<SystemReport>;

export function systemEnv(opts: ProbeOptions = {}): SystemEnv {
  const env = opts.env ?? process.env;
  return { kernelRelease: opts.kernelRelease ?? release(), notify: Boolean(env.NOTIFY_SOCKET), arch: arch() };
}

/** The executable `name` on `path` (PATH syntax), or undefined. */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const isEperm = (text: string) => /Operation not permitted|EPERM/.test(text);
const NEEDS_ROOT = 'not checked: needs root (CAP_NET_ADMIN)';

export async function probeSystem(cfg: Config, opts: ProbeOptions = {}): Promise<SystemReport> {
  const env = opts.env ?? process.env;
  const sysEnv = systemEnv(opts);
  const timeoutMs = opts.timeoutMs ?? 5000;
  let nftBin: string | undefined;
  const checks: SystemCheck[] = [];
  for (const req of requirements(cfg, sysEnv)) {
    let outcome: ProbeOutcome;
    if (req.known) outcome = req.known;
    else {
      try {
        outcome = await probeOne(req);
      } catch (err) {
        outcome = { status: 'missing', detail: oneLine(errorMessage(err)) };
      }
    }
    checks.push(systemCheck(req, outcome));
  }
  return systemReport(checks);

  async function probeOne(req: Requirement): Promise<ProbeOutcome> {
    switch (req.id) {
      case 'nft': {
        const bin = findOnPath('nft', env.PATH);
        if (!bin) return { status: 'missing', detail: `not found in PATH (${env.PATH ?? 'unset'})` };
        const r = await defaultExec([bin, '--version'], { allowFail: true, timeoutMs, env });
        if (r.code !== 0) return { status: 'missing', detail: `${bin} --version failed: exit ${r.code}: ${oneLine(r.stderr || r.stdout)}` };
        nftBin = bin;
        return { status: 'ok', detail: `${oneLine(r.stdout)} at ${bin}` };
      }
      case 'nft-table': {
        if (!nftBin) return { status: 'skipped', detail: 'not checked: nft is missing' };
        const desired = plan(cfg, [], { resilientGroups: kernelHasResilientGroups(sysEnv.kernelRelease) });
        const nft = new Nft({ binary: nftBin, timeoutMs, exec: (argv, o) => defaultExec(argv, { ...o, env }) });
        try {
          await nft.check(replaceTableBatch(desired.nft));
        } catch (err) {
          const msg = oneLine(errorMessage(err));
          return isEperm(msg) ? { status: 'skipped', detail: NEEDS_ROOT } : { status: 'missing', detail: `the kernel refused wanbraid's table (nft --check): ${msg}` };
        }
        return { status: 'ok', detail: `the kernel accepts wanbraid's table (nft --check, nothing applied)` };
      }
      case 'libnftables': {
        let addon;
        try {
          addon = nativeAddon(opts.addonPath ?? DEFAULT_ADDON_PATH);
        } catch {
          return { status: 'skipped', detail: 'not checked: the native addon is missing' };
        }
        try {
          const s = NftSession.open({ addon });
          const tables = await s.run('list tables', { what: 'list tables', commands: 1 }).finally(() => s.close());
          return { status: 'ok', detail: `${s.library} loaded; a kept context lists ${countTables(tables)} table(s)` };
        } catch (err) {
          const msg = oneLine(errorMessage(err));
          return isEperm(msg) ? { status: 'skipped', detail: NEEDS_ROOT } : { status: 'missing', detail: msg };
        }
      }
      case 'nexthop': {
        const nl = RtnlClient.open({ timeoutMs });
        try {
          const n = await nexthop.list(nl);
          return { status: 'ok', detail: `kernel ${sysEnv.kernelRelease} lists nexthop objects (${n.length} now)` };
        } catch (err) {
          const why = err instanceof KernelError ? err.errno : errorMessage(err);
          return { status: 'missing', detail: `kernel ${sysEnv.kernelRelease} refused a nexthop dump: ${oneLine(why)}` };
        } finally {
          nl.close();
        }
      }
      case 'ctnetlink': {
        const ct = new Conntrack({ timeoutMs });
        try {
          // A mark no link uses: the dump answers with (almost surely) nothing.
          await ct.dumpMark(0xffffffff, 0xffffffff);
          return { status: 'ok', detail: 'the kernel answers conntrack dumps by mark' };
        } catch (err) {
          const why = err instanceof KernelError ? err.errno : errorMessage(err);
          return isEperm(why) ? { status: 'skipped', detail: NEEDS_ROOT } : { status: 'missing', detail: `conntrack dump refused: ${oneLine(why)}` };
        } finally {
          ct.close();
        }
      }
      case 'ip':
      case 'dhcpcd': {
        const bin = findOnPath(req.id, `${env.PATH ?? ''}${delimiter}/usr/sbin${delimiter}/sbin`);
        return bin ? { status: 'ok', detail: bin } : { status: 'missing', detail: `not found in PATH (${env.PATH ?? 'unset'})` };
      }
      case 'pppd': {
        const bin = findOnPath('pppd', `${env.PATH ?? ''}${delimiter}/usr/sbin${delimiter}/sbin`);
        if (!bin) return { status: 'missing', detail: `not found in PATH (${env.PATH ?? 'unset'})` };
        const plugin = findPppoePlugin();
        return plugin ? { status: 'ok', detail: `${bin}, ${plugin}` } : { status: 'missing', detail: `${bin} found, but no pppoe.so under /usr/lib/pppd` };
      }
      case 'ppp-kernel':
        return existsSync('/dev/ppp') ? { status: 'ok', detail: '/dev/ppp exists' } : { status: 'missing', detail: 'this kernel has no PPP support: /dev/ppp does not exist (CONFIG_PPP unset or ppp_generic not loaded)' };
      case 'dial-parent': {
        const r = await defaultExec(['ip', '-j', 'link', 'show', 'dev', req.subject ?? ''], { allowFail: true, timeoutMs, env });
        if (r.code === 0) return { status: 'ok', detail: 'exists' };
        return { status: 'missing', detail: `does not exist in this network namespace (${oneLine(r.stderr || r.stdout)})` };
      }
      case 'dial-secret': {
        let st;
        try {
          st = statSync(req.subject ?? '');
        } catch (err) {
          return { status: 'missing', detail: `cannot be read (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})` };
        }
        const why = secretFileProblem({ isFile: st.isFile(), mode: st.mode, size: st.size });
        return why ? { status: 'missing', detail: why } : { status: 'ok', detail: 'readable by its owner only' };
      }
      case 'native': {
        const path = opts.addonPath ?? DEFAULT_ADDON_PATH;
        try {
          nativeAddon(path);
        } catch (err) {
          const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
          return { status: 'missing', detail: cause?.code === 'MODULE_NOT_FOUND' ? `not found at ${path}` : `${path} does not load: ${oneLine(errorMessage(cause ?? err))}` };
        }
        return { status: 'ok', detail: path };
      }
    }
  }
}

function countTables(json: string): number {
  try {
    return ((JSON.parse(json.trim() || '{"nftables":[]}') as { nftables: object[] }).nftables ?? []).filter((o) => 'table' in o).length;
  } catch {
    return 0;
  }
}

/** Debian's ppp ships its plugins under /usr/lib/pppd/<version>/. */
export function findPppoePlugin(root = '/usr/lib/pppd'): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(root).sort().reverse();
  } catch {
    return undefined;
  }
  for (const v of versions) for (const f of ['pppoe.so', 'rp-pppoe.so']) if (existsSync(join(root, v, f))) return join(root, v, f);
  return undefined;
}

function oneLine(text: string): string {
  const t = text.trim().replace(/\s*\n\s*/g, ' | ');
  return t.length > 300 ? `${t.slice(0, 300)}…` : t || 'no message';
}
