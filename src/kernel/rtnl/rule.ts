/**
 * Policy-routing rules (struct fib_rule_hdr + FRA_* attributes, `ip rule` in ip(8)): the plain
 * object, identity and comparison, the codec and the verbs. Codec and comparisons are pure.
 *
 * Every rule we encode carries FRA_PROTOCOL, so the owner is visible in `ip rule` and in dumps,
 * and FRA_TABLE (the header's table byte cannot hold ids above 255). The kernel has no in-place
 * replace for rules: {@link canReplace} is always false, and a changed rule is added anew before
 * the old one is deleted. `add` uses NLM_F_EXCL, so an identical rule is refused (EEXIST) rather
 * than duplicated.
 *
 * Selectors we do not model (uidrange, ipproto, sport/dport, tos/dscp, l3mdev, tun_id,
 * suppress_ifgroup) are ignored by {@link decode}; they only occur on foreign rules.
 */
import type { Family } from '../../model.js';
import { AttrReader, AttrWriter, malformed } from './attr.js';
import type { RtnlTransport } from './client.js';
import { RTM_DELRULE, RTM_GETRULE, RTM_NEWRULE, RT_TABLE_UNSPEC } from './constants.js';
import { afOf, familyOfAf, ipToBytes, readAddress } from './ip.js';
import { NLM_F_CREATE, NLM_F_EXCL } from './netlink.js';
import { checkAddress, checkInt, checkPrefixLen, invalid } from './validate.js';

const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_IIFNAME = 3;
const FRA_GOTO = 4;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_SUPPRESS_PREFIXLEN = 14;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;
const FRA_PROTOCOL = 21;

const FIB_RULE_INVERT = 0x2;
const HDR_LEN = 12;
/** The kernel's "no suppress_prefixlength" value (-1 as u32). */
const SUPPRESS_NONE = 0xffffffff;

/** fib_rule_hdr.action (FR_ACT_*), named as ip(8) names them: `lookup TABLE` is 'table'. */
const ACTIONS = { table: 1, goto: 2, nop: 3, blackhole: 6, unreachable: 7, prohibit: 8 } as const;
export type RuleAction = keyof typeof ACTIONS;

/** An `ip rule`. */
export interface Rule {
  family: Family;
  /** `priority`/`pref` in ip(8); lower is evaluated first. */
  priority: number;
  action: RuleAction;
  /** Table to look up, for action 'table'. */
  table?: number;
  /** Priority to jump to, for action 'goto'. */
  goto?: number;
  /** FRA_PROTOCOL: who owns the rule (`RTPROT_WANBRAID` for us). */
  protocol: number;
  /** Source prefix (`from`); absent means all. */
  src?: string;
  srcLen?: number;
  /** Destination prefix (`to`); absent means all. */
  dst?: string;
  dstLen?: number;
  /** Packet mark to match (`fwmark`). */
  fwmark?: number;
  /** Mask applied before comparing (`fwmark M/MASK`); with a fwmark the kernel's default is 0xffffffff. */
  fwmask?: number;
  iifname?: string;
  oifname?: string;
  /** Ignore a lookup result whose prefix is this long or shorter (`suppress_prefixlength`). */
  suppressPrefixlen?: number;
  /** Match packets the selectors do not match (`not`). */
  invert?: boolean;
}

function maskOf(r: Rule): number | undefined {
  return r.fwmark === undefined && r.fwmask === undefined ? undefined : (r.fwmask ?? 0xffffffff);
}

/** What a packet must look like to match: priority and selectors. */
export function key(r: Rule): string {
  const p = [`inet${r.family === 6 ? '6' : ''}`, `pref ${r.priority}`];
  if (r.invert) p.push('not');
  p.push(`from ${r.src !== undefined ? `${r.src}/${r.srcLen ?? (r.family === 4 ? 32 : 128)}` : 'all'}`);
  if (r.dst !== undefined) p.push(`to ${r.dst}/${r.dstLen ?? (r.family === 4 ? 32 : 128)}`);
  if (r.fwmark !== undefined || r.fwmask !== undefined) p.push(`fwmark 0x${(r.fwmark ?? 0).toString(16)}/0x${maskOf(r)!.toString(16)}`);
  if (r.iifname !== undefined) p.push(`iif ${r.iifname}`);
  if (r.oifname !== undefined) p.push(`oif ${r.oifname}`);
  return p.join(' ');
}

/** True when `a` is exactly what `b` asks for. */
export function equals(a: Rule, b: Rule): boolean {
  return (
    key(a) === key(b) &&
    a.action === b.action &&
    a.table === b.table &&
    a.goto === b.goto &&
    a.protocol === b.protocol &&
    a.suppressPrefixlen === b.suppressPrefixlen
  );
}

/** Rules cannot be changed in place: add the new one, then delete the old one. */
export function canReplace(_a: Rule, _b: Rule): boolean {
  return false;
}

/** ip(8)-like text for logs and error messages. */
export function describe(r: Rule): string {
  const p = [key(r)];
  if (r.action === 'table') p.push(`lookup ${r.table ?? '?'}`);
  else if (r.action === 'goto') p.push(`goto ${r.goto ?? '?'}`);
  else p.push(r.action);
  if (r.suppressPrefixlen !== undefined) p.push(`suppress_prefixlength ${r.suppressPrefixlen}`);
  p.push(`proto ${r.protocol}`);
  return p.join(' ');
}

function check(r: Rule): void {
  const what = `rule ${describe(r)}`;
  if (r.family !== 4 && r.family !== 6) throw invalid(what, `family must be 4 or 6, got ${String(r.family)}`);
  if (!Object.hasOwn(ACTIONS, r.action)) throw invalid(what, `unknown action "${String(r.action)}"`);
  checkInt(what, 'priority', r.priority, 0, 0xffffffff);
  checkInt(what, 'protocol', r.protocol, 0, 255);
  checkInt(what, 'table', r.table, 1, 0xffffffff);
  checkInt(what, 'goto', r.goto, 1, 0xffffffff);
  checkInt(what, 'fwmark', r.fwmark, 0, 0xffffffff);
  checkInt(what, 'fwmask', r.fwmask, 0, 0xffffffff);
  checkInt(what, 'suppressPrefixlen', r.suppressPrefixlen, 0, 128);
  checkAddress(what, 'src', r.src, r.family);
  checkAddress(what, 'dst', r.dst, r.family);
  checkPrefixLen(what, 'srcLen', r.srcLen, r.family);
  checkPrefixLen(what, 'dstLen', r.dstLen, r.family);
  if (r.action === 'table' && r.table === undefined) throw invalid(what, "action 'table' needs a table");
  if (r.action === 'goto' && r.goto === undefined) throw invalid(what, "action 'goto' needs a goto target");
}

/** struct fib_rule_hdr + attributes, for RTM_NEWRULE/RTM_DELRULE. Throws WB_INTERNAL on an invalid rule. */
export function encode(r: Rule): Buffer {
  check(r);
  const full = r.family === 4 ? 32 : 128;
  const h = Buffer.alloc(HDR_LEN);
  h.writeUInt8(afOf(r.family), 0);
  h.writeUInt8(r.dst !== undefined ? (r.dstLen ?? full) : 0, 1);
  h.writeUInt8(r.src !== undefined ? (r.srcLen ?? full) : 0, 2);
  h.writeUInt8(r.table !== undefined && r.table <= 255 ? r.table : RT_TABLE_UNSPEC, 4);
  h.writeUInt8(ACTIONS[r.action], 7);
  h.writeUInt32LE(r.invert ? FIB_RULE_INVERT : 0, 8);
  const w = new AttrWriter().u32(FRA_PRIORITY, r.priority).u8(FRA_PROTOCOL, r.protocol);
  if (r.table !== undefined) w.u32(FRA_TABLE, r.table);
  if (r.goto !== undefined) w.u32(FRA_GOTO, r.goto);
  if (r.src !== undefined) w.raw(FRA_SRC, ipToBytes(r.src, r.family));
  if (r.dst !== undefined) w.raw(FRA_DST, ipToBytes(r.dst, r.family));
  if (r.fwmark !== undefined) w.u32(FRA_FWMARK, r.fwmark);
  if (r.fwmask !== undefined) w.u32(FRA_FWMASK, r.fwmask);
  if (r.iifname !== undefined) w.string(FRA_IIFNAME, r.iifname);
  if (r.oifname !== undefined) w.string(FRA_OIFNAME, r.oifname);
  if (r.suppressPrefixlen !== undefined) w.u32(FRA_SUPPRESS_PREFIXLEN, r.suppressPrefixlen);
  return Buffer.concat([h, w.bytes()]);
}

/** The family of a rule message, or undefined for one the adapter does not model. */
export function familyOf(payload: Buffer): Family | undefined {
  return payload.length >= 1 ? familyOfAf(payload.readUInt8(0)) : undefined;
}

/** An RTM_NEWRULE/RTM_DELRULE payload → Rule. Pure. */
export function decode(payload: Buffer): Rule {
  if (payload.length < HDR_LEN) throw malformed('rule', `${payload.length} bytes`);
  const family = familyOf(payload);
  if (!family) throw malformed('rule', `address family ${payload.readUInt8(0)}`);
  const actionNo = payload.readUInt8(7);
  const action = (Object.keys(ACTIONS) as RuleAction[]).find((k) => ACTIONS[k] === actionNo);
  if (!action) throw malformed('rule', `action ${actionNo}`);
  const a = AttrReader.parse(payload.subarray(HDR_LEN), 'rule');
  const r: Rule = { family, priority: a.u32(FRA_PRIORITY) ?? 0, action, protocol: a.u8(FRA_PROTOCOL) ?? 0 };
  const table = a.u32(FRA_TABLE) ?? payload.readUInt8(4);
  if (table !== RT_TABLE_UNSPEC) r.table = table;
  const gotoTarget = a.u32(FRA_GOTO);
  if (gotoTarget !== undefined) r.goto = gotoTarget;
  const src = a.raw(FRA_SRC);
  if (src) {
    r.src = readAddress(src, family, 'rule src');
    r.srcLen = payload.readUInt8(2);
  }
  const dst = a.raw(FRA_DST);
  if (dst) {
    r.dst = readAddress(dst, family, 'rule dst');
    r.dstLen = payload.readUInt8(1);
  }
  const fwmark = a.u32(FRA_FWMARK);
  if (fwmark !== undefined) r.fwmark = fwmark;
  const fwmask = a.u32(FRA_FWMASK);
  if (fwmask !== undefined) r.fwmask = fwmask;
  const iif = a.string(FRA_IIFNAME);
  if (iif !== undefined) r.iifname = iif;
  const oif = a.string(FRA_OIFNAME);
  if (oif !== undefined) r.oifname = oif;
  const spl = a.u32(FRA_SUPPRESS_PREFIXLEN);
  if (spl !== undefined && spl !== SUPPRESS_NONE) r.suppressPrefixlen = spl;
  if (payload.readUInt32LE(8) & FIB_RULE_INVERT) r.invert = true;
  return r;
}

/** Which rules {@link list} returns. */
export interface RuleFilter {
  family?: Family;
  protocol?: number;
}

/** Dump rules (the kernel filters by family only; the rest is filtered here). */
export async function list(nl: RtnlTransport, filter: RuleFilter = {}): Promise<Rule[]> {
  const out: Rule[] = [];
  for (const family of filter.family ? [filter.family] : ([4, 6] as const)) {
    const req = Buffer.alloc(HDR_LEN);
    req.writeUInt8(afOf(family), 0);
    for (const m of await nl.dump(`rule list inet${family === 6 ? '6' : ''}`, RTM_GETRULE, req)) {
      if (m.type !== RTM_NEWRULE || familyOf(m.payload) !== family) continue;
      const r = decode(m.payload);
      if (filter.protocol !== undefined && r.protocol !== filter.protocol) continue;
      out.push(r);
    }
  }
  return out;
}

/** Add; EEXIST if an identical rule exists. */
export async function add(nl: RtnlTransport, r: Rule): Promise<void> {
  await nl.request(`rule add ${describe(r)}`, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, encode(r));
}

/** Delete the rule matching every field given; ENOENT if there is none. */
export async function remove(nl: RtnlTransport, r: Rule): Promise<void> {
  await nl.request(`rule del ${describe(r)}`, RTM_DELRULE, 0, encode(r));
}
