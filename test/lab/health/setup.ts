/**
 * A multi-WAN lab with the health manager running in its router (through the lab driver), the
 * per-link tables and source rules in place, and helpers to wait on link states. Shared by the
 * health lab tests and bench/health.bench.ts.
 */
import { Lab, type ProfileName } from '../../../src/lab/lab.js';
import type { WanLinkAddressing } from '../../../src/lab/addressing.js';
import type { LinkState, LinkView } from '../../../src/model.js';
import { Driver, opsModulePath } from '../harness/remote.js';
import type { ChangeEvent } from './health-ops.js';
import { applyRouting, linkConfig, linkRouting, type RoutingLines } from './routing.js';

export interface HealthLab {
  lab: Lab;
  driver: Driver;
  links: WanLinkAddressing[];
  /** The driver's `health.start` result. */
  initial: LinkView[];
  /** Wait for `link` to enter `state` (a change after `since`, default now). */
  waitState(link: string, state: LinkState, opts?: { since?: number; timeoutMs?: number }): Promise<ChangeEvent>;
  /** Stop the driver and bring the lab down. */
  down(): Promise<void>;
}

export interface HealthLabOptions {
  links?: number;
  /** The config given to the manager (default: every link with default ICMP probes). */
  config?: (links: WanLinkAddressing[]) => Record<string, unknown>;
  /** Router routing before the manager starts (default: tables and rules for every link). */
  routing?: (links: WanLinkAddressing[]) => RoutingLines[];
  onProgress?: (step: string) => void;
  /** Per link, a named link profile (rate, delay, jitter, loss; src/lab/profiles.ts), or null. */
  profiles?: readonly (ProfileName | null)[];
}

export async function healthLab(opts: HealthLabOptions = {}): Promise<HealthLab> {
  const lab = await Lab.up({ links: opts.links ?? 3, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}), ...(opts.profiles ? { profiles: opts.profiles } : {}) });
  try {
    const links = lab.addr.links;
    await applyRouting(lab.ns('router'), (opts.routing ?? ((ls) => ls.map((l) => linkRouting(l))))(links));
    const config = (opts.config ?? ((ls) => ({ links: ls.map((l) => linkConfig(l)) })))(links);
    // The driver runs in the router; the lab ends it (by PID) at lab.down().
    const driver = await Driver.start(lab.namespaces, 'router', opsModulePath(import.meta.url, './health-ops.js'));
    const initial = await driver.call<LinkView[]>('health.start', { config });
    const waitState = (link: string, state: LinkState, w: { since?: number; timeoutMs?: number } = {}) =>
      driver.waitFor<ChangeEvent>('change', (c) => c.view.name === link && c.view.state === state && c.prev?.state !== state, {
        since: w.since ?? driver.cursor('change'),
        timeoutMs: w.timeoutMs ?? 10_000,
      });
    return {
      lab,
      driver,
      links,
      initial,
      waitState,
      async down() {
        await driver.stop().catch(() => undefined);
        await lab.down();
      },
    };
  } catch (err) {
    await lab.down();
    throw err;
  }
}

/** Wait until every named link is online (from the start of the change stream, or `since`). */
export async function allOnline(h: HealthLab, names: readonly string[], since = 0, timeoutMs = 10_000): Promise<void> {
  const pending = names.filter((n) => h.initial.find((v) => v.name === n)?.state !== 'online');
  await Promise.all(pending.map((n) => h.waitState(n, 'online', { since, timeoutMs })));
}
