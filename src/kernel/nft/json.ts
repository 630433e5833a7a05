/**
 * Types of the libnftables JSON schema (nft 1.0.6, `json_schema_version` 1), the subset wanbraid
 * writes and reads. They mirror libnftables-json(5): an expression is a literal, an array (a
 * concatenation's members, an anonymous set) or a one-key object naming its kind; a statement is
 * a one-key object. Nothing here builds strings of nft syntax: the JSON goes to `nft -j -f -`.
 */

/** Families of nft tables (`inet` covers IPv4 and IPv6). */
export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

/** `{ "meta": { "key": "mark" } }` etc. (meta keys of nft(8)). */
export type MetaKey = 'mark' | 'iifname' | 'oifname' | 'iif' | 'oif' | 'nfproto' | 'l4proto' | 'length' | 'protocol';
export type CtKey = 'mark' | 'state' | 'direction' | 'status';
export type PayloadProto = 'ip' | 'ip6' | 'tcp' | 'udp' | 'sctp' | 'udplite' | 'th';

/** An expression on the right or left side of a match, or the value of a mangle. */
export type NftExpr =
  | string
  | number
  | boolean
  | NftExpr[]
  | { meta: { key: MetaKey } }
  | { ct: { key: CtKey; dir?: 'original' | 'reply'; family?: 'ip' | 'ip6' } }
  | { payload: { protocol: PayloadProto; field: string } }
  | { prefix: { addr: string; len: number } }
  | { range: [NftExpr, NftExpr] }
  | { set: NftExpr[] | NftMapElem[] }
  | { concat: NftExpr[] }
  | { '&': [NftExpr, NftExpr] }
  | { '|': [NftExpr, NftExpr] }
  | { '^': [NftExpr, NftExpr] }
  | { '<<': [NftExpr, NftExpr] }
  | { '>>': [NftExpr, NftExpr] }
  | { numgen: { mode: 'random' | 'inc'; mod: number; offset?: number } }
  | { jhash: { mod: number; offset?: number; seed?: number; expr: NftExpr } }
  | { map: { key: NftExpr; data: NftExpr } }
  | { fib: { result: 'oif' | 'oifname' | 'type'; flags: ('saddr' | 'daddr' | 'mark' | 'iif' | 'oif')[] } }
  | NftVerdict;

/** Verdicts, usable as statements and as map data. */
export type NftVerdict =
  | { accept: null }
  | { drop: null }
  | { continue: null }
  | { return: null }
  | { jump: { target: string } }
  | { goto: { target: string } };

/** A map element: key and data. */
export type NftMapElem = [NftExpr, NftExpr];

export type MatchOp = '==' | '!=' | '<' | '>' | '<=' | '>=' | 'in';

/** Statements: what a rule's `expr` array holds. */
export type NftStmt =
  | { match: { op: MatchOp; left: NftExpr; right: NftExpr } }
  | { mangle: { key: NftExpr; value: NftExpr } }
  | { counter: string | null | { packets: number; bytes: number } }
  | { vmap: { key: NftExpr; data: NftExpr } }
  | { masquerade: null | { port?: NftExpr; flags?: string[] } }
  | { snat: { family?: 'ip' | 'ip6'; addr: NftExpr; port?: NftExpr } }
  | { dnat: { family?: 'ip' | 'ip6'; addr: NftExpr; port?: NftExpr } }
  | { redirect: null | { port: NftExpr } }
  | { reject: null | { type: 'icmpx' | 'icmp' | 'icmpv6' | 'tcp reset'; expr?: string } }
  | { notrack: null }
  | NftVerdict;

export type ChainType = 'filter' | 'nat' | 'route';
export type ChainHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress';

export interface NftTableObj {
  family: NftFamily;
  name: string;
  handle?: number;
}

export interface NftChainObj {
  family: NftFamily;
  table: string;
  name: string;
  type?: ChainType;
  hook?: ChainHook;
  prio?: number;
  policy?: 'accept' | 'drop';
  handle?: number;
}

/** Set key and map data types nft knows by name. */
export type NftDataType = 'ipv4_addr' | 'ipv6_addr' | 'mark' | 'ifname' | 'inet_service' | 'inet_proto' | 'verdict';

export interface NftSetObj {
  family: NftFamily;
  table: string;
  name: string;
  /** Required by `add`; not by `flush` or `delete`. */
  type?: NftDataType;
  flags?: ('interval' | 'constant' | 'timeout' | 'dynamic')[];
  elem?: NftExpr[];
  comment?: string;
  handle?: number;
}

export interface NftMapObj {
  family: NftFamily;
  table: string;
  name: string;
  /** Key and data types: required by `add`; not by `flush` or `delete`. */
  type?: NftDataType;
  map?: NftDataType;
  flags?: ('interval' | 'constant')[];
  elem?: NftMapElem[];
  comment?: string;
  handle?: number;
}

export interface NftCounterObj {
  family: NftFamily;
  table: string;
  name: string;
  packets?: number;
  bytes?: number;
  handle?: number;
}

export interface NftRuleObj {
  family: NftFamily;
  table: string;
  chain: string;
  expr: NftStmt[];
  comment?: string;
  handle?: number;
}

export interface NftElementObj {
  family: NftFamily;
  table: string;
  name: string;
  elem: NftExpr[] | NftMapElem[];
}

/** One object of a command or of `nft -j list` output. */
export type NftObject =
  | { table: NftTableObj }
  | { chain: NftChainObj }
  | { set: NftSetObj }
  | { map: NftMapObj }
  | { counter: NftCounterObj }
  | { rule: NftRuleObj }
  | { element: NftElementObj };

/** Commands of a batch. */
export type NftCommand =
  | { add: NftObject }
  | { delete: NftObject }
  | { flush: NftObject }
  | { reset: NftObject };

/** The document `nft -j -f -` reads: one atomic transaction. */
export interface NftBatch {
  nftables: NftCommand[];
}

/** The document `nft -j list …` writes. */
export interface NftListing {
  nftables: ({ metainfo: Record<string, unknown> } | NftObject)[];
}
