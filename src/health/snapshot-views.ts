/**
 * Link views from one read-only dump of the kernel, before (or without) link health running:
 * the daemon applies them once before the first probe leaves, so that the per-link tables and
 * `from <address>` rules the probes rely on already exist; `wanbraid check --plan` renders them.
 */
import type { Config, LinkConfig } from '../config/schema.js';
import { errorMessage } from '../errors.js';
import type { LinkObservation, LinkState, LinkView } from '../model.js';
import type { KernelSource } from './kernel.js';
import { KernelTable, observeLink } from './observe.js';

export const NOTHING_OBSERVED: LinkObservation = { ifindex: undefined, adminUp: false, carrier: false, pointToPoint: false, ipv4: undefined, ipv6: undefined };

export interface SnapshotViews {
  views: LinkView[];
  /** Why the kernel could not be read (every observation is then empty). */
  error: string | undefined;
}

export async function snapshotViews(
  cfg: Config,
  kernel: KernelSource,
  stateOf: (l: LinkConfig) => { state: LinkState; weight: number },
  opts: { ownProtocol?: number; now?: number } = {},
): Promise<SnapshotViews> {
  let table: KernelTable | undefined;
  let error: string | undefined;
  try {
    table = KernelTable.from(await kernel.dump());
  } catch (err) {
    error = errorMessage(err);
  }
  const observeOpts = opts.ownProtocol === undefined ? {} : { ownProtocol: opts.ownProtocol };
  const views = cfg.links.map((l): LinkView => {
    const { state, weight } = stateOf(l);
    return {
      name: l.name,
      interface: l.interface,
      state,
      since: opts.now ?? Date.now(),
      reason: { kind: 'initial' },
      weight,
      observation: table ? observeLink(table, l, undefined, observeOpts) : NOTHING_OBSERVED,
    };
  });
  return { views, error };
}
