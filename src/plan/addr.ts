/**
 * Address arithmetic the planner needs: the network of an address and prefix length, canonical
 * prefixes, containment, and a set of prefixes reduced to the ones no other member covers (nft
 * interval sets refuse overlapping elements). Pure; IPv4 and IPv6 through BigInt.
 */
import { isIPv4 } from 'node:net';
import type { Family, Prefix } from '../config/values.js';

function toBig(addr: string): bigint {
  if (isIPv4(addr)) return addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const parse = (s: string | undefined): string[] => (s ? s.split(':') : []);
  let groups = parse(head);
  let rest = parse(tail);
  // An embedded IPv4 tail (::ffff:198.18.0.1) counts as two groups.
  const fix = (gs: string[]): string[] =>
    gs.flatMap((g) => {
      if (!g.includes('.')) return [g];
      const v = toBig(g);
      return [((v >> 16n) & 0xffffn).toString(16), (v & 0xffffn).toString(16)];
    });
  groups = fix(groups);
  rest = fix(rest);
  const missing = tail === undefined ? 0 : 8 - groups.length - rest.length;
  const all = [...groups, ...Array<string>(missing).fill('0'), ...rest];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g || '0', 16)), 0n);
}

function fromBig(v: bigint, family: Family): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((v >> s) & 0xffffn).toString(16));
  // RFC 5952: compress the longest run of two or more zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

const bits = (f: Family): bigint => (f === 4 ? 32n : 128n);

function maskOf(len: number, family: Family): bigint {
  const total = bits(family);
  return len === 0 ? 0n : ((1n << total) - 1n) ^ ((1n << (total - BigInt(len))) - 1n);
}

/** The network prefix an address with this prefix length is in (`198.18.1.7`, 24 → 198.18.1.0/24). */
export function networkOf(address: string, len: number): Prefix {
  const family: Family = isIPv4(address) ? 4 : 6;
  return { address: fromBig(toBig(address) & maskOf(len, family), family), len, family };
}

/** The same prefix with host bits cleared and the address in canonical form. */
export function canonicalPrefix(p: Prefix): Prefix {
  return networkOf(p.address, p.len);
}

export function prefixKey(p: Prefix): string {
  const c = canonicalPrefix(p);
  return `${c.address}/${c.len}`;
}

/** `outer` covers `inner` (same family, shorter or equal length, same network bits). */
export function covers(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.len > inner.len) return false;
  const m = maskOf(outer.len, outer.family);
  return (toBig(outer.address) & m) === (toBig(inner.address) & m);
}

/**
 * The canonical prefixes of one family that no other member covers, sorted by address: what an
 * nft interval set accepts without "conflicting intervals".
 */
export function reducePrefixes(list: readonly Prefix[], family: Family): Prefix[] {
  const uniq = new Map<string, Prefix>();
  for (const p of list) if (p.family === family) uniq.set(prefixKey(p), canonicalPrefix(p));
  const sorted = [...uniq.values()].sort((a, b) => {
    const d = toBig(a.address) - toBig(b.address);
    return d < 0n ? -1 : d > 0n ? 1 : a.len - b.len;
  });
  const out: Prefix[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && covers(last, p)) continue;
    out.push(p);
  }
  return out;
}
