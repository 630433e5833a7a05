/**
 * What every prober shares: its result, its interface and the per-link source addresses.
 *
 * Contract: `probe` never rejects — every outcome, including a bad target or a closed prober, is a
 * {@link ProbeResult}. It settles within roughly `timeoutMs` (plus event-loop delay) and leaves no
 * timer behind. Many probes may be outstanding at once, to the same or different targets.
 */
import type { ProbeConfig } from '../../config/schema.js';

/** The outcome of one probe. `rttMs` is milliseconds from sending to the answer. */
export type ProbeResult = { ok: true; rttMs: number } | { ok: false; error: string };

/**
 * The link's own source addresses. A probe to an IPv4 target leaves from `ipv4`, to an IPv6
 * target from `ipv6`; with no address for the target's family the probe fails without sending.
 */
export interface ProbeSource {
  ipv4?: string | undefined;
  ipv6?: string | undefined;
}

export interface Prober {
  /** Probe one target (an IPv4 or IPv6 address) with a deadline in milliseconds. */
  probe(target: string, timeoutMs: number): Promise<ProbeResult>;
  /** Close the prober's sockets; outstanding probes settle at once as failures. Idempotent. */
  close(): void;
}

/** The parts of a link's `probe:` section a prober needs; absent fields take the schema's defaults. */
export type ProberConfig = Pick<ProbeConfig, 'method'> &
  Partial<Pick<ProbeConfig, 'port' | 'query' | 'path' | 'host' | 'expectStatus' | 'verifyCertificate'>>;
