/**
 * The contract health/ needs from a prober (built in health/probers/): one prober per link, created
 * with the link's source address per family, sends one probe to one target and resolves within
 * `timeoutMs` — never rejects. Several probes to the same target may be in flight at once (rounds
 * overlap when the timeout is longer than the interval). Health creates a new prober when the link's
 * source address changes and closes the old one.
 */
import type { ProbeConfig } from '../config/schema.js';

/** The outcome of one probe. */
export interface ProbeResult {
  ok: boolean;
  /** Round-trip time in milliseconds, when `ok`. */
  rttMs?: number;
  /** Why it failed: "timeout", an errno name, "status 503", ... */
  error?: string;
}

export interface Prober {
  probe(target: string, timeoutMs: number): Promise<ProbeResult>;
  close(): void | Promise<void>;
}

/** The link's own source address per family: probes leave with it. */
export interface ProbeSource {
  ipv4?: string;
  ipv6?: string;
}

export type ProberFactory = (probe: ProbeConfig, source: ProbeSource) => Prober;
