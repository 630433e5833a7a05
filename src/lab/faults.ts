/**
 * Faults the lab injects into one link (or relay path), as pure data → commands. Everything a
 * fault does happens inside the link's own middle node (the ISP, or the relay hop), never in the
 * router or entry under test:
 *
 * - `blackhole`: the far side is dead while carrier and ARP/ND stay up. An ISP drops everything
 *   it would forward (it still answers ARP/ND and pings to its own address, like a modem whose
 *   upstream is gone); a relay hop drops every IP packet that reaches it except neighbour
 *   discovery, since the relay talks to the hop itself.
 * - `loss`: each packet entering the middle node (either direction) is dropped with probability
 *   pct/100 (`numgen random mod 10000 < pct·100`, so 0.01% steps); neighbour discovery and
 *   loopback are spared. There is no netem on this kernel.
 * - `carrier-down` / `carrier-up`: the middle node's interface toward the router (entry) goes
 *   admin down/up, so the router's (entry's) end shows NO-CARRIER.
 * - `delay`: latency and jitter per direction, by the link's delay element (delay.ts,
 *   delay-element.ts); applied by the testbed, not by the commands here.
 * - `clear`: remove every fault of the link (nft table gone, carrier up, delay off).
 *
 * Faults combine (loss + blackhole + carrier-down); each nftables change is one atomic `nft -f`
 * batch on the lab's own table `inet lab_faults` in the middle node. The kernel is the only
 * record of what is applied: {@link parseFaultState} reads it back.
 */
import { WanbraidError } from '../errors.js';
import { parseLinkDelay, type LinkDelay, formatLinkDelay } from './delay.js';

export type Fault =
  | { kind: 'blackhole' }
  | { kind: 'loss'; /** percent, 0..100, two decimals */ pct: number }
  | { kind: 'carrier-down' }
  | { kind: 'carrier-up' }
  | { kind: 'delay'; delay: LinkDelay }
  | { kind: 'clear' };

export type FaultKind = Fault['kind'];
export const FAULT_KINDS: readonly FaultKind[] = ['blackhole', 'loss', 'carrier-down', 'carrier-up', 'delay', 'clear'];

/** Where a link's faults are applied. */
export interface FaultTarget {
  /** The link's (path's) name: `wanI` or `pathK`. */
  link: string;
  /** 1-based number of the link. */
  index: number;
  /** The middle node that carries the faults (`ispI`, `hopK`). */
  node: string;
  /** The middle node's interface toward the router (entry): goes down for `carrier-down`. */
  carrierDev: string;
  /** The middle node's interface toward the far side (inet, the exit): the delay's `down` direction enters there. */
  farDev: string;
  /** `forward`: blackhole only what the node forwards (an ISP); `all`: everything it receives (a hop). */
  blackholeScope: 'forward' | 'all';
}

/** What is applied to a link right now, as read from the kernel. */
export interface FaultState {
  blackhole: boolean;
  /** Loss in percent, or null when no loss rule is installed. */
  lossPct: number | null;
  /** false after carrier-down. */
  carrier: boolean;
}

export const FAULT_TABLE = 'lab_faults';

function labError(message: string): WanbraidError {
  return new WanbraidError('WB_LAB', message);
}

export function checkLossPct(pct: number, what = 'loss'): number {
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) throw labError(`${what}: ${pct} is not a percentage from 0 to 100`);
  const bp = Math.round(pct * 100);
  if (Math.abs(bp - pct * 100) > 1e-6) throw labError(`${what}: ${pct} has more than two decimals`);
  return bp / 100;
}

/**
 * The CLI's words: `blackhole`, `loss 10`, `loss 2.5%`, `carrier-down`, `carrier-up`,
 * `delay 80ms±20ms` (or `delay DOWN/UP`, `delay none`; see delay.ts), `clear`.
 */
export function parseFault(words: readonly string[]): Fault {
  const [kind, arg, extra] = words;
  const usage = `expected one of ${FAULT_KINDS.map((k) => (k === 'loss' ? 'loss PCT' : k === 'delay' ? 'delay DELAY[±JITTER]' : k)).join(', ')}`;
  if (kind === undefined) throw labError(`missing fault: ${usage}`);
  if (kind === 'loss') {
    if (arg === undefined) throw labError('loss: missing percentage (e.g. loss 10)');
    if (extra !== undefined) throw labError(`loss: unexpected argument "${extra}"`);
    const m = /^(\d+(?:\.\d+)?)%?$/.exec(arg);
    if (!m) throw labError(`loss: "${arg}" is not a percentage (e.g. 10 or 2.5)`);
    return { kind: 'loss', pct: checkLossPct(Number(m[1])) };
  }
  if (kind === 'delay') {
    if (arg === undefined) throw labError('delay: missing delay (e.g. delay 80ms±20ms, delay 10ms/30ms, delay none)');
    if (extra !== undefined) throw labError(`delay: unexpected argument "${extra}"`);
    return { kind: 'delay', delay: parseLinkDelay(arg, 'delay') };
  }
  if (kind === 'blackhole' || kind === 'carrier-down' || kind === 'carrier-up' || kind === 'clear') {
    if (arg !== undefined) throw labError(`${kind}: unexpected argument "${arg}"`);
    return { kind };
  }
  throw labError(`unknown fault "${kind}": ${usage}`);
}

export function formatFault(f: Fault): string {
  if (f.kind === 'loss') return `loss ${f.pct}%`;
  if (f.kind === 'delay') return `delay ${formatLinkDelay(f.delay)}`;
  return f.kind;
}

/** Commands that apply a fault in the target's node: an nft script and/or `ip` batch lines. */
export interface FaultCommands {
  nft?: string;
  ip?: string[];
}

/** Neighbour discovery must survive every fault: carrier and ARP/ND "still up". */
const ND_ACCEPT = 'icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } accept';

function chain(name: string, hook: 'forward' | 'prerouting', rules: string[]): string {
  return [
    `add table inet ${FAULT_TABLE}`,
    `add chain inet ${FAULT_TABLE} ${name} { type filter hook ${hook} priority -300; policy accept; }`,
    `flush chain inet ${FAULT_TABLE} ${name}`,
    ...rules.map((r) => `add rule inet ${FAULT_TABLE} ${name} ${r}`),
  ].join('\n') + '\n';
}

export function faultCommands(target: FaultTarget, fault: Fault): FaultCommands {
  switch (fault.kind) {
    case 'blackhole':
      return target.blackholeScope === 'forward'
        ? { nft: chain('blackhole', 'forward', ['counter drop comment "blackhole"']) }
        : { nft: chain('blackhole', 'prerouting', [ND_ACCEPT, 'iif "lo" accept', 'counter drop comment "blackhole"']) };
    case 'loss': {
      const pct = checkLossPct(fault.pct);
      const bp = Math.round(pct * 100);
      // numgen mod 10000 is 0..9999: nft refuses `< 10000`, so 100% is a plain drop.
      const match = bp >= 10000 ? '' : `numgen random mod 10000 < ${bp} `;
      return { nft: chain('loss', 'prerouting', [ND_ACCEPT, 'iif "lo" accept', `${match}counter drop comment "loss ${pct}"`]) };
    }
    case 'carrier-down':
      return { ip: [`link set dev ${target.carrierDev} down`] };
    case 'carrier-up':
      return { ip: [`link set dev ${target.carrierDev} up`] };
    case 'delay':
      // Not a kernel object of its own: the testbed runs the link's delay element (delay-element.ts).
      return {};
    case 'clear':
      // `add` first makes the `delete` valid whether or not the table exists: one atomic batch.
      return { nft: `add table inet ${FAULT_TABLE}\ndelete table inet ${FAULT_TABLE}\n`, ip: [`link set dev ${target.carrierDev} up`] };
  }
}

interface NftRuleJson {
  rule?: { chain?: string; comment?: string };
}

/**
 * Read back a link's faults from `nft -j list table inet lab_faults` (empty string when the
 * table does not exist) and `ip -j link show dev CARRIERDEV`.
 */
export function parseFaultState(nftJson: string, linkJson: string): FaultState {
  let blackhole = false;
  let lossPct: number | null = null;
  if (nftJson.trim()) {
    const doc = JSON.parse(nftJson) as { nftables?: NftRuleJson[] };
    for (const item of doc.nftables ?? []) {
      const c = item.rule?.comment;
      if (!c) continue;
      if (c === 'blackhole') blackhole = true;
      const m = /^loss (\d+(?:\.\d+)?)$/.exec(c);
      if (m) lossPct = Number(m[1]);
    }
  }
  const links = JSON.parse(linkJson || '[]') as { flags?: string[] }[];
  const carrier = (links[0]?.flags ?? []).includes('UP');
  return { blackhole, lossPct, carrier };
}

export function formatFaultState(s: FaultState): string {
  const parts: string[] = [];
  if (!s.carrier) parts.push('carrier-down');
  if (s.blackhole) parts.push('blackhole');
  if (s.lossPct !== null) parts.push(`loss ${s.lossPct}%`);
  return parts.length ? parts.join(', ') : 'none';
}
