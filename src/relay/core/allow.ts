/**
 * The exit's allow-list: a target is permitted only when some entry's prefix contains its address
 * (same family) and the entry's port range (any port when absent) contains its port. Port 0 and
 * anything unparsable are never permitted. Pure.
 */
import type { AllowRule } from '../../config/schema.js';
import { formatPrefix } from '../../config/values.js';
import { prefixContains } from '../protocol/addr.js';
import type { Target } from '../protocol/frames.js';

export function isAllowed(allow: readonly AllowRule[], t: Target): boolean {
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) return false;
  return allow.some(
    (a) => a.prefix.family === t.family && prefixContains(a.prefix.address, a.prefix.len, t.host) && (!a.ports || (t.port >= a.ports.from && t.port <= a.ports.to)),
  );
}

export function formatAllowRule(a: AllowRule): string {
  const p = formatPrefix(a.prefix);
  if (!a.ports) return p;
  const ports = a.ports.from === a.ports.to ? `${a.ports.from}` : `${a.ports.from}-${a.ports.to}`;
  return a.prefix.family === 6 ? `[${p}]:${ports}` : `${p}:${ports}`;
}
