/**
 * The contract health/ needs from a prober (built in health/probers/): one prober per link, created
 * with the link's source address per family, sends one probe to one target and resolves within
 * about `timeoutMs` — never rejects (probers/types.ts). Several probes to the same target may be in
 * flight at once (rounds overlap when the timeout is longer than the interval, and a round may send
 * a retry). Health creates a new prober when the link's source address or probe settings change and
 * closes the old one. Tests inject fakes through {@link ProberFactory}.
 */
import type { ProbeConfig } from '../config/schema.js';
import type { Prober, ProbeResult, ProbeSource } from './probers/types.js';

export type { Prober, ProbeResult, ProbeSource };

/** Makes one link's prober: `createProber` from probers/index.ts in the daemon. */
export type ProberFactory = (probe: ProbeConfig, source: ProbeSource) => Prober;
