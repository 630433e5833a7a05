/**
 * `wanbraid check`: validate a configuration, and probe this host for what it needs ("system": the
 * same probes `wanbraid run` refuses to start without, so systemd's ExecStartPre catches a missing
 * one); with --plan, print the kernel state it asks for. Touches nothing.
 */
import { parse, EXIT_FAIL, EXIT_OK, type CliIO, type Command } from '../args.js';
import { loadConfigFile, DEFAULT_CONFIG_PATH } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { suggest } from '../../config/validate.js';
import { ConfigError, UsageError, WanbraidError } from '../../errors.js';
import type { LinkView } from '../../model.js';
import { snapshotViews } from '../../health/snapshot-views.js';
import { checkKeyFiles } from '../../relay/key.js';
import { checkTokenFile } from '../../web/token.js';
import { RtnlKernelSource } from '../../health/rtnl-source.js';
import { RTPROT_WANBRAID } from '../../kernel/rtnl/index.js';
import { plan } from '../../plan/planner.js';
import { auditHooks } from '../../status/hooks.js';
import { renderPlan } from '../../plan/render.js';
import { probeSystem, type SystemProbe } from '../../daemon/preflight-probe.js';
import type { SystemReport } from '../../daemon/preflight.js';
import { table } from '../table.js';

/**
 * Views for `--plan`: every link online at its configured weight (or offline when named in
 * `offline`), observed read-only from this host's kernel (interfaces, addresses, learned gateways).
 * A link whose interface is missing here has nothing routable; `notes` says so.
 */
async function planViews(cfg: Config, offline: ReadonlySet<string>): Promise<{ views: LinkView[]; notes: string[] }> {
  const src = new RtnlKernelSource();
  const notes: string[] = [];
  try {
    const { views, error } = await snapshotViews(cfg, src, (l) => (offline.has(l.name) ? { state: 'offline', weight: 0 } : { state: 'online', weight: l.weight }), {
      ownProtocol: RTPROT_WANBRAID,
    });
    if (error) notes.push(`cannot read this host's interfaces (${error}): no link is routable in this plan`);
    else
      for (const v of views) {
        if (v.observation.ifindex === undefined) notes.push(`${v.name}: interface ${v.interface} does not exist here; its table, rules and nexthops appear once it does`);
        else if (!v.observation.ipv4 && !v.observation.ipv6) notes.push(`${v.name}: ${v.interface} has no global address here`);
      }
    return { views, notes };
  } finally {
    await src.close();
  }
}

/** The "system" section: one row per requirement (status, what, detail; where it fails, what needs it and how to get it). */
export function formatSystem(r: SystemReport): string {
  if (r.checks.length === 0) return 'system: nothing to check (no links, no icmp probes, no transparent relay entry)';
  const missing = r.checks.filter((c) => c.status === 'missing').length;
  const head = missing === 0 ? 'system: ok' : `system: ${missing} missing (wanbraid run refuses to start)`;
  const rows = r.checks.map((c) => [
    c.status === 'missing' ? 'MISSING' : c.status,
    c.what,
    c.status === 'missing' ? `${c.detail}; needed by ${c.neededBy.join(', ')}; ${c.remedy}` : c.detail,
  ]);
  const lines = table(['STATUS', 'WHAT', 'DETAIL'], rows).split('\n');
  return [head, ...lines.map((l) => `  ${l}`)].join('\n');
}

const USAGE = `usage: wanbraid check [-c FILE] [--no-system] [--json | --plan [--offline LINK,...]]

Validates FILE (default ${DEFAULT_CONFIG_PATH}) and lists every problem with its field path. Relay
key files and the dashboard's token file (web.tokenFile) are read too, as the daemon will: one the daemon would refuse (accessible by group or
others, owned by another user than the one running check, malformed, unreadable) is an error; a
missing one is a warning on stderr (the file may be checked on another machine).
Then, under "system", probes this host for what the configuration needs (nft, the kernel's
nftables table inet through nft --check of wanbraid's table, nexthop objects, conntrack netlink,
the native addon) exactly as \`wanbraid run\` does before it starts: a missing one is named with
what needs it and how to get it. Probes that need root are "skipped" when run without it.
Hooks (hooks.dir) are checked as the daemon will: a directory or hook not owned by root or writable
by its group or others is an error (the daemon refuses to run it).
Exit status: 0 valid and nothing missing, 1 invalid, unreadable, an untrusted hook or something
missing, 2 usage error. Changes nothing on the system.

  -c, --config FILE     configuration file
      --no-system       validate the file only (for a file meant for another machine)
      --json            print {file, config, system}: the typed configuration (with defaults)
                        and the system checks
      --plan            print the state the daemon would install now, with every link online:
                        policies, ip rules, nexthops, routes per table, sysctls and the nft batch.
                        Interfaces, addresses and learned gateways are read (only read) from this
                        host's kernel. No system checks.
      --offline LINKS   with --plan: these links (comma-separated) offline, to preview a failover`;

async function runCheck(argv: string[], io: CliIO, probe: SystemProbe): Promise<number> {
  const { values } = parse('check', argv, {
    config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH },
    json: { type: 'boolean', default: false },
    plan: { type: 'boolean', default: false },
    offline: { type: 'string' },
    'no-system': { type: 'boolean', default: false },
  });
  if (values.json && values.plan) throw new UsageError('check: --json and --plan exclude each other');
  if (values.offline !== undefined && !values.plan) throw new UsageError('check: --offline goes with --plan');
  const file = values.config;
  let cfg: Config;
  try {
    cfg = loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof WanbraidError) {
      io.err(err.message);
      return EXIT_FAIL;
    }
    throw err;
  }
  // Relay key files are read as the daemon will read them. A missing one is a warning (the config
  // may be checked on another machine than the one it runs on); one that exists here and that
  // the daemon would refuse is an error.
  // So is the dashboard's token file (web.tokenFile): readable by group or others is an error.
  const keys = checkKeyFiles(cfg);
  const token = checkTokenFile(cfg);
  for (const w of [...keys.warnings, ...token.warnings]) io.err(`warning: ${w.path}: ${w.message}`);
  for (const e of [...keys.errors, ...token.errors]) io.err(`error: ${e.path}: ${e.message}`);
  if (keys.errors.length > 0 || token.errors.length > 0) return EXIT_FAIL;
  // Hooks run as root: a directory or hook that someone else could change is refused (and the daemon will not run it).
  const hookProblems = cfg.hooks ? (await auditHooks(cfg.hooks.dir)).problems : [];
  for (const p of hookProblems) io.err(`error: hooks.dir: ${p.path}: ${p.reason}`);
  if (hookProblems.length > 0) return EXIT_FAIL;
  if (values.plan) {
    const names = cfg.links.map((l) => l.name);
    const offline = new Set((values.offline ?? '').split(',').filter((s) => s !== ''));
    for (const n of offline) if (!names.includes(n)) throw new UsageError(`check: --offline: unknown link "${n}"${suggest(n, names)}`);
    const { views, notes } = await planViews(cfg, offline);
    for (const n of notes) io.err(`note: ${n}`);
    io.out(renderPlan(plan(cfg, views)));
    return EXIT_OK;
  }
  const system = values['no-system'] ? undefined : await probe(cfg);
  if (values.json) io.out(JSON.stringify({ file, config: cfg, ...(system ? { system } : {}) }, null, 2));
  else {
    io.out(`${file}: ok (${cfg.links.length} link${cfg.links.length === 1 ? '' : 's'}, ${Object.keys(cfg.policies).length} policies, ${cfg.rules.length} rules)`);
    if (system) io.out(formatSystem(system));
  }
  return system && !system.ok ? EXIT_FAIL : EXIT_OK;
}

/** The command, with the system probe injectable (tests give a fake; the CLI probes this host). */
export function makeCheck(probe: SystemProbe = (cfg) => probeSystem(cfg)): Command {
  return {
    summary: 'validate a configuration file, and this host for it (--plan: print the kernel state it asks for)',
    usage: USAGE,
    run: (argv, io) => runCheck(argv, io, probe),
  };
}

export const check: Command = makeCheck();
