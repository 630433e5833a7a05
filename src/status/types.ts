/**
 * The status object returned by `{"cmd":"status"}` and rendered by `wanbraid status`. Stable
 * field names: scripts depend on them. Times are ISO-8601 strings, durations milliseconds.
 */
import type { LinkState } from '../model.js';

export interface LinkStatus {
  name: string;
  interface: string;
  state: LinkState;
  /** When the link entered this state (ISO-8601). */
  since: string;
  /** Why, in words (the typed reason is in `reasonKind`). */
  reason: string;
  reasonKind: string;
  /** Weight used for balancing now. */
  weight: number;
  /** Configured weight. */
  configuredWeight: number;
  /** Further per-link figures from health and balancing (RTT, loss, share of flows, ...). */
  [extra: string]: unknown;
}

export interface StatusObject {
  version: string;
  pid: number;
  startedAt: string;
  config: { file: string; loadedAt: string };
  links: LinkStatus[];
  /** Sections contributed by subsystems (balancer, relay, ...), when configured. */
  [section: string]: unknown;
}
