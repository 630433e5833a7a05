/**
 * Interface byte counters from /proc/net/dev, which shows the network namespace of the reading
 * process (the daemon's). {@link parseNetDev} is pure; {@link readNetDev} reads the file.
 */
import { readFile } from 'node:fs/promises';

export interface IfCounters {
  /** Bytes received (in, download on a WAN link). */
  rxBytes: number;
  /** Bytes sent (out, upload). */
  txBytes: number;
}

/** `Inter-|   Receive ... |  Transmit ...` lines → counters by interface name. */
export function parseNetDev(text: string): Map<string, IfCounters> {
  const out = new Map<string, IfCounters>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (name === '' || f.length < 16) continue;
    const rx = Number(f[0]);
    const tx = Number(f[8]);
    if (Number.isFinite(rx) && Number.isFinite(tx)) out.set(name, { rxBytes: rx, txBytes: tx });
  }
  return out;
}

export async function readNetDev(path = '/proc/net/dev'): Promise<Map<string, IfCounters>> {
  return parseNetDev(await readFile(path, 'utf8'));
}
