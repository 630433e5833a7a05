/**
 * Typed constructors for the nft JSON expressions and statements wanbraid uses, so the planner
 * reads like the ruleset it builds (`match(ctMark.and(mask), '==', 0)`) and can never produce a
 * string of nft syntax. Pure; every function returns fresh plain data.
 */
import type { Prefix } from '../../config/values.js';
import type { CtKey, MatchOp, MetaKey, NftExpr, NftMapElem, NftStmt, NftVerdict, PayloadProto } from './json.js';

export const meta = (key: MetaKey): NftExpr => ({ meta: { key } });
export const ct = (key: CtKey): NftExpr => ({ ct: { key } });
export const payload = (protocol: PayloadProto, field: string): NftExpr => ({ payload: { protocol, field } });

/**
 * `fib daddr [. mark] <result>`: a route lookup for the packet's destination (with its packet mark
 * when `withMark`), as the kernel would do it now.
 */
export const fibDaddr = (result: 'oifname' | 'type', withMark = false): NftExpr => ({
  fib: { result, flags: withMark ? ['daddr', 'mark'] : ['daddr'] },
});

export const and = (a: NftExpr, b: NftExpr): NftExpr => ({ '&': [a, b] });
export const or = (a: NftExpr, b: NftExpr): NftExpr => ({ '|': [a, b] });

/** An address prefix; a host prefix is written as the bare address. */
export function prefixExpr(p: Prefix): NftExpr {
  const max = p.family === 4 ? 32 : 128;
  return p.len === max ? p.address : { prefix: { addr: p.address, len: p.len } };
}

export const range = (from: NftExpr, to: NftExpr): NftExpr => ({ range: [from, to] });

/** An anonymous set `{ a, b }`; a single member is written bare. */
export function anonSet(items: NftExpr[]): NftExpr {
  return items.length === 1 ? items[0]! : { set: items };
}

/** `@name`: a reference to a named set or map. */
export const setRef = (name: string): NftExpr => `@${name}`;

export const concat = (...items: NftExpr[]): NftExpr => ({ concat: items });
export const numgenRandom = (mod: number): NftExpr => ({ numgen: { mode: 'random', mod, offset: 0 } });
export const jhash = (expr: NftExpr, mod: number, seed: number): NftExpr => ({ jhash: { mod, seed, expr } });

export const match = (left: NftExpr, op: MatchOp, right: NftExpr): NftStmt => ({ match: { op, left, right } });
export const mangle = (key: NftExpr, value: NftExpr): NftStmt => ({ mangle: { key, value } });
export const vmap = (key: NftExpr, data: NftExpr): NftStmt => ({ vmap: { key, data } });
/** A named counter object's reference. */
export const counterRef = (name: string): NftStmt => ({ counter: name });
export const anonCounter = (): NftStmt => ({ counter: null });

export const jump = (target: string): NftVerdict => ({ jump: { target } });
export const goto = (target: string): NftVerdict => ({ goto: { target } });
export const accept = (): NftVerdict => ({ accept: null });
export const drop = (): NftVerdict => ({ drop: null });
export const ret = (): NftVerdict => ({ return: null });

export const masquerade = (): NftStmt => ({ masquerade: null });
export const snat = (family: 4 | 6, addr: string): NftStmt => ({ snat: { family: family === 4 ? 'ip' : 'ip6', addr } });
export const redirectToPort = (port: number): NftStmt => ({ redirect: { port } });
/** `reject with icmpx type no-route` (ICMP net unreachable / ICMPv6 no route), what an unreachable route answers. */
export const rejectNoRoute = (): NftStmt => ({ reject: { type: 'icmpx', expr: 'no-route' } });
/** `reject with icmpx type port-unreachable` (ICMP / ICMPv6 port unreachable): what a host without the port answers. */
export const rejectPortUnreachable = (): NftStmt => ({ reject: { type: 'icmpx', expr: 'port-unreachable' } });

export const mapElem = (key: NftExpr, data: NftExpr): NftMapElem => [key, data];

/** `meta nfproto ipv4|ipv6`: restrict an `inet` rule to one family. */
export const nfproto = (family: 4 | 6): NftStmt => match(meta('nfproto'), '==', family === 4 ? 'ipv4' : 'ipv6');

/** Source or destination address of the given family. */
export const addr = (family: 4 | 6, side: 'saddr' | 'daddr'): NftExpr => payload(family === 4 ? 'ip' : 'ip6', side);

/** `mark & ~mask | value` on the ct or packet mark: sets our bits, keeps everyone else's. */
export function setMarkBits(key: 'meta' | 'ct', mask: number, value: number): NftStmt {
  const target = key === 'meta' ? meta('mark') : ct('mark');
  return mangle(target, or(and(target, (~mask) >>> 0), value >>> 0));
}
