/**
 * The relay's integration API for the daemon: {@link startRelay} runs every relay role the config
 * asks for on this host (entries, the exit, forwarding hops), and returns a {@link RelayHandle} to
 * reload, feed link availability, read status and stop.
 *
 * Errors: key files are read (and their owner and mode checked) before anything starts or changes,
 * so a bad or loose key is a ConfigError that changes nothing. A listen failure at start stops what had started and throws
 * WB_RELAY_LISTEN; at reload, the components that could not listen stay stopped, the rest of the
 * reload applies, and one WB_RELAY_LISTEN error lists every failure.
 *
 * Reload keeps what did not change: an entry whose listen, target, exit, key and tuning are the
 * same only reconciles its paths (flows continue); the exit takes the new allow-list (for new
 * opens) and the new keys (sessions under a removed or changed key are closed: revocation);
 * forwarding hops are keyed by listen and target.
 */
import type { Logger } from '../log.js';
import type { Config, RelayEntryConfig, RelayExitConfig, RelayTuningConfig } from '../config/schema.js';
import { formatEndpoint } from '../config/values.js';
import { WanbraidError, errorMessage } from '../errors.js';
import { realClock, type Clock } from './core/clock.js';
import { RelayEntry } from './entry.js';
import { RelayExit } from './exit.js';
import { ForwardHop } from './forward.js';
import { loadRelayKeys, type ExitKeys } from './key.js';
import type { ClientKey } from './net/handshake.js';
import { nativeOriginalDst } from './original-dst.js';
import type { LinkAddresses, LinkMap, OriginalDstLookup } from './links.js';
import type { RelayStatus } from './status.js';
import type { Progress, SpeedTestResult } from './speedtest-plan.js';

export type { LinkAddresses, LinkMap, OriginalDstLookup } from './links.js';
export type { RelayStatus } from './status.js';
export { formatRelayStatus } from './status.js';

export interface RelayDeps {
  logger: Logger;
  /** This host's links, by name (link paths); link paths stay unused until a link is known and usable. */
  links?: LinkMap | Record<string, LinkAddresses>;
  /** Original destination of redirected connections (transparent entries); default the native addon's. */
  originalDst?: OriginalDstLookup | undefined;
  /** For tests. */
  clock?: Clock;
}

export interface RelayHandle {
  /** Apply a new config (see the module comment for what is kept). */
  reload(config: Config): Promise<void>;
  /** Link availability and source addresses changed (from link health and rtnetlink). */
  setLinks(links: LinkMap | Record<string, LinkAddresses>): void;
  status(): RelayStatus;
  /**
   * Run `wanbraid speedtest` over entry `entry` (optional when there is exactly one); throws
   * WB_REQUEST_INVALID naming the entries when it is unknown or ambiguous.
   */
  speedTest(entry: string | undefined, seconds: number, onProgress?: (p: Progress) => void): Promise<SpeedTestResult>;
  /** Stop every role: flows are reset, paths closed, listeners closed. */
  stop(): Promise<void>;
}

const toMap = (l: LinkMap | Record<string, LinkAddresses> | undefined): LinkMap => (l instanceof Map ? l : new Map(Object.entries(l ?? {})));

interface Keys {
  entries: Map<string, ClientKey>;
  exit: ExitKeys | undefined;
}

function entryKey(e: RelayEntryConfig, key: ClientKey, t: RelayTuningConfig): string {
  return JSON.stringify([e.listen, e.target ?? null, e.exit, key.name, key.psk.toString('base64'), t]);
}
/** What restarts the exit; its keys and allow-list are applied in place. */
function exitKey(x: RelayExitConfig, t: RelayTuningConfig): string {
  return JSON.stringify([x.listen, t]);
}
function forwardName(f: Config['forwards'][number]): string {
  return f.name ?? `${formatEndpoint(f.listen)}->${formatEndpoint(f.to)}`;
}
function forwardKey(f: Config['forwards'][number]): string {
  return JSON.stringify([f.listen, f.to, f.name ?? null]);
}

export async function startRelay(config: Config, deps: RelayDeps): Promise<RelayHandle> {
  const log = deps.logger;
  const clock = deps.clock ?? realClock;
  let links = toMap(deps.links);
  const entries = new Map<string, { rt: RelayEntry; key: string }>();
  let exit: { rt: RelayExit; key: string } | undefined;
  const forwards = new Map<string, ForwardHop>();

  const newEntry = (e: RelayEntryConfig, key: ClientKey, t: RelayTuningConfig) =>
    new RelayEntry(e, t, key, { logger: log, clock, links, originalDst: deps.originalDst ?? nativeOriginalDst });

  /** Start what `config` asks for and is not running; returns the failures. */
  async function apply(cfg: Config, keys: Keys): Promise<string[]> {
    const failures: string[] = [];
    const relay = cfg.relay;
    const tuning = relay?.tuning;
    // Entries
    const wantedEntries = new Map((relay?.entries ?? []).map((e) => [e.name, e]));
    for (const [name, cur] of [...entries]) {
      const e = wantedEntries.get(name);
      const k = e ? entryKey(e, keys.entries.get(name)!, tuning!) : undefined;
      if (k === cur.key) {
        cur.rt.setPaths(e!.paths);
        continue;
      }
      entries.delete(name);
      await cur.rt.stop();
    }
    for (const [name, e] of wantedEntries) {
      if (entries.has(name)) continue;
      const key = keys.entries.get(name)!;
      const rt = newEntry(e, key, tuning!);
      try {
        await rt.start();
        entries.set(name, { rt, key: entryKey(e, key, tuning!) });
      } catch (err) {
        await rt.stop();
        failures.push(errorMessage(err));
      }
    }
    // Exit
    const x = relay?.exit;
    const xk = x ? exitKey(x, tuning!) : undefined;
    if (exit && exit.key !== xk) {
      await exit.rt.stop();
      exit = undefined;
    }
    if (exit && x) {
      exit.rt.setAllow(x.allow);
      exit.rt.setSpeedtest(x.speedtest);
      exit.rt.setKeys(keys.exit!);
    }
    if (!exit && x) {
      const rt = new RelayExit(x, tuning!, keys.exit!, { logger: log, clock });
      try {
        await rt.start();
        exit = { rt, key: xk! };
      } catch (err) {
        await rt.stop();
        failures.push(errorMessage(err));
      }
    }
    // Forwarding hops
    const wantedFwd = new Map(cfg.forwards.map((f) => [forwardKey(f), f]));
    for (const [k, hop] of [...forwards]) {
      if (wantedFwd.has(k)) continue;
      forwards.delete(k);
      await hop.stop();
    }
    for (const [k, f] of wantedFwd) {
      if (forwards.has(k)) continue;
      const hop = new ForwardHop(f, forwardName(f), log);
      try {
        await hop.start();
        forwards.set(k, hop);
      } catch (err) {
        await hop.stop();
        failures.push(errorMessage(err));
      }
    }
    return failures;
  }

  async function stopAll(): Promise<void> {
    for (const { rt } of entries.values()) await rt.stop();
    entries.clear();
    if (exit) await exit.rt.stop();
    exit = undefined;
    for (const hop of forwards.values()) await hop.stop();
    forwards.clear();
  }

  const failures = await apply(config, loadRelayKeys(config));
  if (failures.length > 0) {
    await stopAll();
    throw new WanbraidError('WB_RELAY_LISTEN', failures.join('; '));
  }

  return {
    async reload(cfg) {
      const keys = loadRelayKeys(cfg);
      const fails = await apply(cfg, keys);
      if (fails.length > 0) throw new WanbraidError('WB_RELAY_LISTEN', `reload applied except: ${fails.join('; ')}`);
    },
    setLinks(l) {
      links = toMap(l);
      for (const { rt } of entries.values()) rt.setLinks(links);
    },
    status() {
      return {
        entries: [...entries.values()].map(({ rt }) => rt.status()),
        exit: exit?.rt.status(),
        forwards: [...forwards.values()].map((h) => h.status()),
      };
    },
    speedTest(name, seconds, onProgress) {
      const names = [...entries.keys()];
      if (names.length === 0) throw new WanbraidError('WB_REQUEST_INVALID', 'speedtest: this daemon runs no relay entry (relay.entries)');
      if (name === undefined && names.length > 1) throw new WanbraidError('WB_REQUEST_INVALID', `speedtest: several relay entries (${names.join(', ')}): name one with --entry`);
      const e = entries.get(name ?? names[0]!);
      if (!e) throw new WanbraidError('WB_REQUEST_INVALID', `speedtest: no relay entry "${name}" (entries: ${names.join(', ')})`);
      return e.rt.speedTest(seconds, onProgress);
    },
    stop: stopAll,
  };
}
