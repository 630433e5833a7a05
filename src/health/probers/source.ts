/**
 * Choosing a probe's source address from the target's family, and comparing addresses.
 *
 * Contract: a probe only ever leaves from the link's address of the target's family; when there
 * is none, the choice is an error and nothing is sent (a probe from another address would take
 * another path and prove nothing about this link). Pure.
 */
import { isIP } from 'node:net';
import type { Family } from '../../config/values.js';
import type { ProbeSource } from './types.js';

export type SourceChoice = { family: Family; address: string } | { error: string };

export function chooseSource(target: string, source: ProbeSource): SourceChoice {
  const family = isIP(target);
  if (family !== 4 && family !== 6) return { error: `target "${target}" is not an IP address` };
  const address = family === 4 ? source.ipv4 : source.ipv6;
  if (!address) return { error: `no IPv${family} source address on this link for target ${target}` };
  return { family, address };
}

/**
 * The canonical text of an IP address, as the kernel prints it (inet_ntop): IPv6 compressed and
 * lower-case, so that a configured `2001:DB8:0::1` equals the reply's `2001:db8::1`.
 */
export function canonicalAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}
