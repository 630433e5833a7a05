/** `wanbraid check`: validate a configuration (and with --plan, print the kernel state it asks for). Touches nothing. */
import { parse, EXIT_FAIL, EXIT_OK, type Command } from '../args.js';
import { loadConfigFile, DEFAULT_CONFIG_PATH } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { suggest } from '../../config/validate.js';
import { ConfigError, UsageError, WanbraidError } from '../../errors.js';
import type { LinkView } from '../../model.js';
import { snapshotViews } from '../../health/snapshot-views.js';
import { checkKeyFiles } from '../../relay/key.js';
import { RtnlKernelSource } from '../../health/rtnl-source.js';
import { RTPROT_WANBRAID } from '../../kernel/rtnl/index.js';
import { plan } from '../../plan/planner.js';
import { auditHooks } from '../../status/hooks.js';
import { renderPlan } from '../../plan/render.js';

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

export const check: Command = {
  summary: 'validate a configuration file (--plan: print the kernel state it asks for)',
  usage: `usage: wanbraid check [-c FILE] [--json | --plan [--offline LINK,...]]

Validates FILE (default ${DEFAULT_CONFIG_PATH}) and lists every problem with its field path. Relay
key files are read too, as the daemon will: an unreadable or malformed one is a warning on stderr.
Hooks (hooks.dir) are checked as the daemon will: a directory or hook not owned by root or writable
by its group or others is an error (the daemon refuses to run it).
Exit status: 0 valid, 1 invalid or unreadable (or an untrusted hook), 2 usage error. Changes nothing
on the system.

  -c, --config FILE     configuration file
      --json            print the typed configuration (with defaults) as JSON
      --plan            print the state the daemon would install now, with every link online:
                        policies, ip rules, nexthops, routes per table, sysctls and the nft batch.
                        Interfaces, addresses and learned gateways are read (only read) from this
                        host's kernel.
      --offline LINKS   with --plan: these links (comma-separated) offline, to preview a failover`,
  async run(argv, io) {
    const { values } = parse('check', argv, {
      config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH },
      json: { type: 'boolean', default: false },
      plan: { type: 'boolean', default: false },
      offline: { type: 'string' },
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
    // Relay key files are read as the daemon will read them. The file itself is valid either way
    // (it may be checked on another machine than the one it runs on), so these are warnings.
    const keys = checkKeyFiles(cfg);
    for (const i of keys.issues) io.err(`warning: ${i.path}: ${i.message} (the daemon refuses to start with it)`);
    for (const w of keys.warnings) io.err(`warning: ${w}`);
    // Hooks run as root: a directory or hook that someone else could change is refused (and the daemon will not run it).
    const hookProblems = cfg.hooks ? (await auditHooks(cfg.hooks.dir)).problems : [];
    for (const p of hookProblems) io.err(`error: hooks.dir: ${p.path}: ${p.reason}`);
    if (hookProblems.length > 0) return EXIT_FAIL;
    if (values.json) {
      io.out(JSON.stringify(cfg, null, 2));
      return EXIT_OK;
    }
    if (values.plan) {
      const names = cfg.links.map((l) => l.name);
      const offline = new Set((values.offline ?? '').split(',').filter((s) => s !== ''));
      for (const n of offline) if (!names.includes(n)) throw new UsageError(`check: --offline: unknown link "${n}"${suggest(n, names)}`);
      const { views, notes } = await planViews(cfg, offline);
      for (const n of notes) io.err(`note: ${n}`);
      io.out(renderPlan(plan(cfg, views)));
      return EXIT_OK;
    }
    io.out(`${file}: ok (${cfg.links.length} link${cfg.links.length === 1 ? '' : 's'}, ${Object.keys(cfg.policies).length} policies, ${cfg.rules.length} rules)`);
    return EXIT_OK;
  },
};
