/**
 * The shape of an installed nft table, for drift detection: what `nft -j list table` reports,
 * less what changes on its own or by wanbraid's element updates — handles, counter values, and
 * the elements of the dynamic sets and maps. Two listings of an untouched table have the same
 * shape; a flushed chain, a deleted or inserted rule, a changed chain policy or a removed set does
 * not. Compared against the shape read right after wanbraid installed the table, never against
 * its own batch (nft normalises what it is given, so input and listing differ in form).
 */
import type { NftObject } from './json.js';

const VOLATILE = new Set(['handle', 'packets', 'bytes']);

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    if (!VOLATILE.has(k)) out[k] = strip((v as Record<string, unknown>)[k]);
  }
  return out;
}

/** Canonical text of a table listing's structure; `dynamic` names the sets and maps whose elements are left out. */
export function tableShape(objects: readonly NftObject[], dynamic: ReadonlySet<string>): string {
  const parts = objects.map((o) => {
    if ('set' in o && dynamic.has(o.set.name)) return { set: { ...o.set, elem: undefined } };
    if ('map' in o && dynamic.has(o.map.name)) return { map: { ...o.map, elem: undefined } };
    return o;
  });
  return JSON.stringify(strip(parts));
}

/** The first difference between two shapes, for the log ("rule 12 of …"), or undefined when equal. */
export function shapeDifference(before: string, after: string): string | undefined {
  if (before === after) return undefined;
  const a = JSON.parse(before) as unknown[];
  const b = JSON.parse(after) as unknown[];
  const describe = (o: unknown): string => {
    if (o === undefined) return 'nothing';
    const [kind, body] = Object.entries(o as Record<string, Record<string, unknown>>)[0]!;
    return kind === 'rule' ? `rule in chain ${String(body.chain)}` : `${kind} ${String(body.name)}`;
  };
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return `object ${i + 1}: expected ${describe(a[i])}, found ${describe(b[i])}`;
  }
  return 'objects differ';
}
