/**
 * Parsers for the scalar value kinds a config file uses: durations, byte sizes, IP addresses,
 * prefixes, endpoints and port ranges. Pure functions; each returns `undefined` for input it
 * cannot read so that the schema can phrase the error with the field path.
 *
 * Units: durations are milliseconds, sizes are bytes.
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `2s`, `1.5s`, `1m`, `1h`, or a non-negative number of milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!;
  return Number.isFinite(n) ? Math.round(n) : undefined;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1000, kib: 1024, m: 1e6, mb: 1e6, mib: 1 << 20, g: 1e9, gb: 1e9, gib: 1 << 30 };

/** `64KiB`, `4MiB`, `1MB`, `65536`. */
export function parseSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.round(Number(m[1]) * unit);
}

export function ipFamily(addr: string): Family | undefined {
  const f = isIP(addr);
  return f === 4 || f === 6 ? f : undefined;
}

export interface Prefix {
  address: string;
  len: number;
  family: Family;
}

/** `198.18.0.0/15`, `2001:db8::/32`, or a bare address (a host prefix). */
export function parsePrefix(v: string): Prefix | undefined {
  const slash = v.indexOf('/');
  const addr = slash < 0 ? v : v.slice(0, slash);
  const family = ipFamily(addr);
  if (!family) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address: addr, len: max, family };
  const lenText = v.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > max) return undefined;
  return { address: addr, len, family };
}

export function formatPrefix(p: Prefix): string {
  return `${p.address}/${p.len}`;
}

export interface Endpoint {
  host: string;
  port: number;
  family: Family;
}

/** `198.18.0.1:7000`, `[2001:db8::1]:7000`, `0.0.0.0:7000`. Hostnames are not accepted: a router must not depend on DNS to start. */
export function parseEndpoint(v: string): Endpoint | undefined {
  let host: string;
  let portText: string;
  if (v.startsWith('[')) {
    const close = v.indexOf(']');
    if (close < 0 || v[close + 1] !== ':') return undefined;
    host = v.slice(1, close);
    portText = v.slice(close + 2);
    if (!isIPv6(host)) return undefined;
  } else {
    const colon = v.lastIndexOf(':');
    if (colon < 0) return undefined;
    host = v.slice(0, colon);
    portText = v.slice(colon + 1);
    if (!isIPv4(host)) return undefined;
  }
  const port = parsePort(portText);
  if (port === undefined || port === 0) return undefined;
  return { host, port, family: isIPv6(host) ? 6 : 4 };
}

export function formatEndpoint(e: { host: string; port: number }): string {
  return isIPv6(e.host) ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

export function parsePort(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 65535 ? v : undefined;
  if (typeof v !== 'string' || !/^\d{1,5}$/.test(v)) return undefined;
  return parsePort(Number(v));
}

export interface PortRange {
  from: number;
  to: number;
}

/** `22`, `"22"`, `"1000-2000"`. */
export function parsePortRange(v: unknown): PortRange | undefined {
  const single = parsePort(v);
  if (single !== undefined) return { from: single, to: single };
  if (typeof v !== 'string') return undefined;
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const from = parsePort(m[1]);
  const to = parsePort(m[2]);
  if (from === undefined || to === undefined || from > to) return undefined;
  return { from, to };
}

/** A short, quoted rendering of a bad value for error messages. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

/** Levenshtein distance, for "did you mean" hints on unknown keys. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
