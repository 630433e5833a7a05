/**
 * What a dial's sessions are called and which MAC address each shows the ISP. Pure.
 *
 * Session i (1-based) of dial NAME is the link `NAME<i>`; its macvlan on the parent is
 * `wbm-NAME<i>` and, for PPPoE, its PPP interface `wbp-NAME<i>` (a dial name is at most
 * {@link MAX_DIAL_NAME} characters so that both fit the kernel's 15-character limit). The prefixes
 * make the interfaces wanbraid creates recognisable, and never the same as a physical port's name.
 *
 * The MAC of session i is the first six bytes of SHA-256("wanbraid-dial\0NAME\0i") with the
 * locally administered bit set and the multicast bit cleared (`x2:…`, `x6:…`, `xa:…`, `xe:…`):
 * the same on every start, so an ISP that binds sessions or leases to MACs sees the same
 * sessions after a restart, and different for every dial and session.
 */
import { createHash } from 'node:crypto';

/** Longest dial name: `wbm-` + name + two digits fits 15 characters. */
export const MAX_DIAL_NAME = 9;
/** Sessions per dial. */
export const MAX_SESSIONS = 64;

export const MACVLAN_PREFIX = 'wbm-';
export const PPP_PREFIX = 'wbp-';

/** The link name of session `index` (1-based). */
export function sessionLink(dial: string, index: number): string {
  return `${dial}${index}`;
}

/** The macvlan wanbraid creates on the parent for session `index`. */
export function macvlanName(dial: string, index: number): string {
  return `${MACVLAN_PREFIX}${dial}${index}`;
}

/** The PPP interface (`pppd ifname`) of session `index`. */
export function pppName(dial: string, index: number): string {
  return `${PPP_PREFIX}${dial}${index}`;
}

/** The stable locally administered unicast MAC of session `index`, as `02:xx:xx:xx:xx:xx`. */
export function sessionMac(dial: string, index: number): string {
  const h = createHash('sha256').update(`wanbraid-dial\0${dial}\0${index}`).digest();
  const b = [...h.subarray(0, 6)];
  b[0] = (b[0]! & 0xfc) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
