/**
 * A whole nft table as data ({@link NftTableSpec}) and the batches that install or change it.
 *
 * Structural changes replace the table in one transaction — `add table` (so that the next
 * command cannot fail on a missing table), `delete table`, `add table` and every object — so
 * that packets see either the old ruleset or the new one, never a mix. Element changes of a set
 * or map are `flush` + `add element` in one transaction. Objects are added in dependency order:
 * chains (verdict-map elements name them), counters, sets and maps, then rules.
 *
 * {@link structureKey} is the table without the elements of its dynamic sets and maps: when two
 * specs have the same key, only elements differ and no table replace is needed.
 */
import type { ChainHook, ChainType, NftBatch, NftCommand, NftDataType, NftExpr, NftFamily, NftMapElem, NftStmt } from './json.js';

export interface NftBaseChain {
  type: ChainType;
  hook: ChainHook;
  /** Lower runs first: conntrack is -200, mangle -150, dstnat -100, filter 0, srcnat 100. */
  prio: number;
  policy: 'accept' | 'drop';
}

export interface NftRuleSpec {
  expr: NftStmt[];
  comment?: string;
}

export interface NftChainSpec {
  name: string;
  base?: NftBaseChain;
  rules: NftRuleSpec[];
}

export interface NftSetSpec {
  name: string;
  type: NftDataType;
  interval: boolean;
  elements: NftExpr[];
  /** Elements change at runtime (health, set updates); they are not part of the structure. */
  dynamic: boolean;
}

export interface NftMapSpec {
  name: string;
  type: NftDataType;
  map: NftDataType;
  interval: boolean;
  elements: NftMapElem[];
  dynamic: boolean;
}

export interface NftTableSpec {
  family: NftFamily;
  name: string;
  chains: NftChainSpec[];
  sets: NftSetSpec[];
  maps: NftMapSpec[];
  /** Named counters (packets and bytes). */
  counters: string[];
}

/** The table's objects as `add` commands, in dependency order (no table commands). */
export function tableObjects(spec: NftTableSpec): NftCommand[] {
  const { family, name: table } = spec;
  const out: NftCommand[] = [];
  for (const c of spec.chains) {
    out.push({
      add: { chain: c.base ? { family, table, name: c.name, type: c.base.type, hook: c.base.hook, prio: c.base.prio, policy: c.base.policy } : { family, table, name: c.name } },
    });
  }
  for (const name of spec.counters) out.push({ add: { counter: { family, table, name } } });
  for (const s of spec.sets) {
    out.push({
      add: {
        set: {
          family,
          table,
          name: s.name,
          type: s.type,
          ...(s.interval ? { flags: ['interval' as const] } : {}),
          ...(s.elements.length > 0 ? { elem: s.elements } : {}),
        },
      },
    });
  }
  for (const m of spec.maps) {
    out.push({
      add: {
        map: {
          family,
          table,
          name: m.name,
          type: m.type,
          map: m.map,
          ...(m.interval ? { flags: ['interval' as const] } : {}),
          ...(m.elements.length > 0 ? { elem: m.elements } : {}),
        },
      },
    });
  }
  for (const c of spec.chains) {
    for (const r of c.rules) out.push({ add: { rule: { family, table, chain: c.name, expr: r.expr, ...(r.comment ? { comment: r.comment } : {}) } } });
  }
  return out;
}

/** Install `spec`, replacing whatever table of that name exists, in one transaction. */
export function replaceTableBatch(spec: NftTableSpec): NftBatch {
  const t = { table: { family: spec.family, name: spec.name } };
  return { nftables: [{ add: t }, { delete: t }, { add: t }, ...tableObjects(spec)] };
}

/** Remove the table if it exists (no error when it does not). */
export function deleteTableBatch(family: NftFamily, name: string): NftBatch {
  const t = { table: { family, name } };
  return { nftables: [{ add: t }, { delete: t }] };
}

/** Replace the elements of one set in one transaction. */
export function setElementsCommands(family: NftFamily, table: string, name: string, elements: NftExpr[]): NftCommand[] {
  const out: NftCommand[] = [{ flush: { set: { family, table, name } } }];
  if (elements.length > 0) out.push({ add: { element: { family, table, name, elem: elements } } });
  return out;
}

/** Replace the elements of one map in one transaction. */
export function mapElementsCommands(family: NftFamily, table: string, name: string, elements: NftMapElem[]): NftCommand[] {
  const out: NftCommand[] = [{ flush: { map: { family, table, name } } }];
  if (elements.length > 0) out.push({ add: { element: { family, table, name, elem: elements } } });
  return out;
}

/** Add or delete elements of a set without touching the others. */
export function setElementsDelta(family: NftFamily, table: string, name: string, op: 'add' | 'delete', elements: NftExpr[]): NftCommand[] {
  if (elements.length === 0) return [];
  const element = { element: { family, table, name, elem: elements } };
  return [op === 'add' ? { add: element } : { delete: element }];
}

/** The structure of a table: everything but the elements of its dynamic sets and maps. */
export function structureKey(spec: NftTableSpec): string {
  return JSON.stringify({
    ...spec,
    sets: spec.sets.map((s) => (s.dynamic ? { ...s, elements: [] } : s)),
    maps: spec.maps.map((m) => (m.dynamic ? { ...m, elements: [] } : m)),
  });
}

/** The elements of the dynamic sets and maps, by name (canonical JSON, for comparison). */
export function dynamicElements(spec: NftTableSpec): Map<string, { kind: 'set' | 'map'; json: string }> {
  const out = new Map<string, { kind: 'set' | 'map'; json: string }>();
  for (const s of spec.sets) if (s.dynamic) out.set(s.name, { kind: 'set', json: JSON.stringify(s.elements) });
  for (const m of spec.maps) if (m.dynamic) out.set(m.name, { kind: 'map', json: JSON.stringify(m.elements) });
  return out;
}
