/**
 * Interface addresses (struct ifaddrmsg + IFA_* attributes, `ip address` in ip(8)): the plain
 * object, identity and comparison, the codec and the verbs. Codec and comparisons are pure.
 *
 * Naming follows `ip -j address`: `local` is the interface's own address (IFA_LOCAL; IPv6 sends
 * only IFA_ADDRESS unless there is a peer), `peer` the far end of a point-to-point address
 * (IFA_ADDRESS when it differs from IFA_LOCAL). Flags are the 32-bit IFA_FLAGS when present
 * (IFA_F_*); the kernel changes some of them on its own (tentative, dadfailed, deprecated,
 * secondary), so {@link equals} compares only the ones a caller sets.
 */
import type { Family } from '../../model.js';
import { AttrReader, AttrWriter, malformed } from './attr.js';
import type { RtnlTransport } from './client.js';
import {
  IFA_F_HOMEADDRESS,
  IFA_F_MANAGETEMPADDR,
  IFA_F_MCAUTOJOIN,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from './constants.js';
import { afOf, familyOfAf, ipToBytes, readAddress } from './ip.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from './netlink.js';
import { checkAddress, checkInt, checkPrefixLen, invalid } from './validate.js';

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_FLAGS = 8;

const IFADDRMSG_LEN = 8;
/** The flags a caller chooses; the rest are the kernel's running state. */
const CONFIG_FLAGS = IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR | IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN;

export interface Address {
  family: Family;
  ifindex: number;
  /** The interface's own address. */
  local: string;
  prefixLen: number;
  /** Peer of a point-to-point address (`ip addr add A peer P`). */
  peer?: string;
  /** RT_SCOPE_* (`global` is universe, 0). */
  scope: number;
  /** IFA_F_* bits. */
  flags: number;
  /** IPv4 label (`eth0:1`). */
  label?: string;
}

/** Identity: interface, address and prefix length (and peer). */
export function key(a: Address): string {
  return `inet${a.family === 6 ? '6' : ''} ${a.local}${a.peer !== undefined ? ` peer ${a.peer}` : ''}/${a.prefixLen} dev #${a.ifindex}`;
}

export function equals(a: Address, b: Address): boolean {
  return key(a) === key(b) && a.scope === b.scope && a.label === b.label && (a.flags & CONFIG_FLAGS) === (b.flags & CONFIG_FLAGS);
}

/** NLM_F_REPLACE updates scope, flags and label of an address with the same key. */
export function canReplace(a: Address, b: Address): boolean {
  return key(a) === key(b);
}

export function describe(a: Address): string {
  return `${key(a)} scope ${a.scope} flags 0x${a.flags.toString(16)}${a.label !== undefined ? ` label ${a.label}` : ''}`;
}

function check(a: Address): void {
  const what = `address ${key(a)}`;
  if (a.family !== 4 && a.family !== 6) throw invalid(what, `family must be 4 or 6, got ${String(a.family)}`);
  checkAddress(what, 'local', a.local, a.family);
  checkAddress(what, 'peer', a.peer, a.family);
  checkPrefixLen(what, 'prefixLen', a.prefixLen, a.family);
  checkInt(what, 'ifindex', a.ifindex, 1, 0x7fffffff);
  checkInt(what, 'scope', a.scope, 0, 255);
  checkInt(what, 'flags', a.flags, 0, 0xffffffff);
}

/** struct ifaddrmsg + attributes, for RTM_NEWADDR/RTM_DELADDR (IFA_LOCAL and IFA_ADDRESS, as iproute2 sends them). */
export function encode(a: Address): Buffer {
  check(a);
  const h = Buffer.alloc(IFADDRMSG_LEN);
  h.writeUInt8(afOf(a.family), 0);
  h.writeUInt8(a.prefixLen, 1);
  h.writeUInt8(a.flags & 0xff, 2);
  h.writeUInt8(a.scope, 3);
  h.writeUInt32LE(a.ifindex, 4);
  const w = new AttrWriter()
    .raw(IFA_LOCAL, ipToBytes(a.local, a.family))
    .raw(IFA_ADDRESS, ipToBytes(a.peer ?? a.local, a.family))
    .u32(IFA_FLAGS, a.flags);
  if (a.label !== undefined) w.string(IFA_LABEL, a.label);
  return Buffer.concat([h, w.bytes()]);
}

/** The family of an address message, or undefined for one the adapter does not model. */
export function familyOf(payload: Buffer): Family | undefined {
  return payload.length >= 1 ? familyOfAf(payload.readUInt8(0)) : undefined;
}

/** An RTM_NEWADDR/RTM_DELADDR payload → Address. Pure. */
export function decode(payload: Buffer): Address {
  if (payload.length < IFADDRMSG_LEN) throw malformed('address', `${payload.length} bytes`);
  const family = familyOf(payload);
  if (!family) throw malformed('address', `address family ${payload.readUInt8(0)}`);
  const at = AttrReader.parse(payload.subarray(IFADDRMSG_LEN), 'address');
  const localRaw = at.raw(IFA_LOCAL);
  const addrRaw = at.raw(IFA_ADDRESS);
  const own = localRaw ?? addrRaw;
  if (!own) throw malformed('address', 'neither IFA_LOCAL nor IFA_ADDRESS');
  const a: Address = {
    family,
    ifindex: payload.readUInt32LE(4),
    local: readAddress(own, family, 'address local'),
    prefixLen: payload.readUInt8(1),
    scope: payload.readUInt8(3),
    flags: at.u32(IFA_FLAGS) ?? payload.readUInt8(2),
  };
  if (localRaw && addrRaw && !localRaw.equals(addrRaw)) a.peer = readAddress(addrRaw, family, 'address peer');
  const label = at.string(IFA_LABEL);
  if (label !== undefined) a.label = label;
  return a;
}

/** Which addresses {@link list} returns. */
export interface AddressFilter {
  family?: Family;
  ifindex?: number;
}

/** Dump addresses (filtered here by interface). */
export async function list(nl: RtnlTransport, filter: AddressFilter = {}): Promise<Address[]> {
  const out: Address[] = [];
  for (const family of filter.family ? [filter.family] : ([4, 6] as const)) {
    const req = Buffer.alloc(IFADDRMSG_LEN);
    req.writeUInt8(afOf(family), 0);
    for (const m of await nl.dump(`address list inet${family === 6 ? '6' : ''}`, RTM_GETADDR, req)) {
      if (m.type !== RTM_NEWADDR || familyOf(m.payload) !== family) continue;
      const a = decode(m.payload);
      if (filter.ifindex !== undefined && a.ifindex !== filter.ifindex) continue;
      out.push(a);
    }
  }
  return out;
}

/** Add; EEXIST if the interface has this address already. */
export async function add(nl: RtnlTransport, a: Address): Promise<void> {
  await nl.request(`address add ${describe(a)}`, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, encode(a));
}

/** Add, or update the address with the same key in place. */
export async function replace(nl: RtnlTransport, a: Address): Promise<void> {
  await nl.request(`address replace ${describe(a)}`, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, encode(a));
}

/** Delete; EADDRNOTAVAIL if the interface has no such address. */
export async function remove(nl: RtnlTransport, a: Address): Promise<void> {
  await nl.request(`address del ${describe(a)}`, RTM_DELADDR, 0, encode(a));
}
