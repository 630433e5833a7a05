/**
 * The exit's allow-list: a target is permitted only when some entry's prefix contains its address
 * (same family) and the entry's port range (any port when absent) contains its port. Port 0 and
 * anything unparsable are never permitted. Pure.
 *
 * Two rules close the ways around a list (issue 9 §5):
 * - An IPv4-mapped IPv6 address (`::ffff:0:0/96`, in a target or in a rule) is the IPv4 address it
 *   maps: the kernel connects to the IPv4 host, so it is matched (and connected, see
 *   {@link normalizeTarget}) as IPv4. `[::/0]` therefore never reaches an IPv4 listener.
 * - The exit host's own and neighbouring services are refused unless a rule names them: an address
 *   in one of {@link SPECIAL_RANGES} (unspecified, loopback, link-local, cloud metadata) is permitted
 *   only by a rule whose prefix lies inside that range (`127.0.0.1:5201`, `169.254.169.254`,
 *   `[fe80::/10]:22`), never by a wider one like `0.0.0.0/0` or `[::/0]`.
 */
import type { AllowRule } from '../../config/schema.js';
import { formatPrefix } from '../../config/values.js';
import { ipToBytes, prefixContains } from '../protocol/addr.js';
import type { Target } from '../protocol/frames.js';

/** Ranges a target reaches only through a rule inside them: [address, prefix length, what]. */
export const SPECIAL_RANGES: readonly (readonly [string, number, string])[] = [
  ['0.0.0.0', 8, 'unspecified ("this host")'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (and cloud metadata 169.254.169.254)'],
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fe80::', 10, 'link-local'],
  ['fd00:ec2::254', 128, 'cloud metadata'],
];

/** The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) stands for, else undefined. */
function mappedV4(host: string): string | undefined {
  const b = ipToBytes(host);
  if (!b || b.length !== 16) return undefined;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return undefined;
  if (b[10] !== 0xff || b[11] !== 0xff) return undefined;
  return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
}

/** The target as the kernel will see it: an IPv4-mapped IPv6 address becomes IPv4. */
export function normalizeTarget(t: Target): Target {
  if (t.family !== 6) return t;
  const v4 = mappedV4(t.host);
  return v4 ? { host: v4, port: t.port, family: 4 } : t;
}

interface Net {
  address: string;
  len: number;
  family: 4 | 6;
}

function normalizePrefix(p: Net): Net {
  if (p.family !== 6 || p.len < 96) return p;
  const v4 = mappedV4(p.address);
  return v4 ? { address: v4, len: p.len - 96, family: 4 } : p;
}

function familyOf(addr: string): 4 | 6 | undefined {
  const b = ipToBytes(addr);
  return b ? (b.length === 4 ? 4 : 6) : undefined;
}

/** The special range `addr` lies in, or undefined. */
function specialRange(addr: string, family: 4 | 6): readonly [string, number, string] | undefined {
  return SPECIAL_RANGES.find(([a, len]) => familyOf(a) === family && prefixContains(a, len, addr));
}

function ruleMatches(a: AllowRule, t: Target, special: readonly [string, number, string] | undefined): boolean {
  const p = normalizePrefix(a.prefix);
  if (p.family !== t.family || !prefixContains(p.address, p.len, t.host)) return false;
  if (a.ports && (t.port < a.ports.from || t.port > a.ports.to)) return false;
  // A special address needs a rule that names it: the rule's whole prefix inside the special range.
  return !special || (p.len >= special[1] && prefixContains(special[0], special[1], p.address));
}

export function isAllowed(allow: readonly AllowRule[], target: Target): boolean {
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) return false;
  const t = normalizeTarget(target);
  const special = specialRange(t.host, t.family);
  return allow.some((a) => ruleMatches(a, t, special));
}

export function formatAllowRule(a: AllowRule): string {
  const p = formatPrefix(a.prefix);
  if (!a.ports) return p;
  const ports = a.ports.from === a.ports.to ? `${a.ports.from}` : `${a.ports.from}-${a.ports.to}`;
  return a.prefix.family === 6 ? `[${p}]:${ports}` : `${p}:${ports}`;
}
