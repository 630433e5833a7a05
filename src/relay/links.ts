/**
 * How the relay sees this host's links, and how the transparent entry learns where a redirected
 * connection was going. Both come from outside the relay (the daemon's health tracking, the
 * native addon) through these small types, so the relay can be run and tested without them.
 */

/** One link as the relay needs it: whether to use it, and its source address per family. */
export interface LinkAddresses {
  /** The link is online (or degraded but in use): its paths may connect. */
  usable: boolean;
  ipv4?: string | undefined;
  ipv6?: string | undefined;
}

/** Link name → addresses; a link missing from the map is treated as offline. */
export type LinkMap = ReadonlyMap<string, LinkAddresses>;

/**
 * The original destination of a connection that nftables redirected to this host
 * (getsockopt SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST on the accepted socket's file descriptor).
 * Throws when the connection was not redirected or the lookup fails.
 */
export type OriginalDstLookup = (fd: number, family: 4 | 6) => { host: string; port: number };

/** Why a link path cannot be used now, or undefined with its source address when it can. */
export function linkSource(links: LinkMap, link: string, family: 4 | 6): { address: string } | { reason: string } {
  const l = links.get(link);
  if (!l) return { reason: `link ${link} is unknown to the relay (no state yet)` };
  if (!l.usable) return { reason: `link ${link} is offline` };
  const address = family === 4 ? l.ipv4 : l.ipv6;
  if (!address) return { reason: `link ${link} has no IPv${family} address` };
  return { address };
}
