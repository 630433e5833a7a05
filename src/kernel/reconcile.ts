/**
 * The pure half of the reconciler: desired objects of one kind against what the kernel has →
 * the steps that make the kernel match, touching only objects we own.
 *
 * Three phases, as systemd-networkd drops routes: mark every actual object we own; unmark each
 * one a desired object matches (equal: nothing to do; same key and replaceable in place:
 * `replace`); delete whatever is still marked. A desired object whose key is held by a foreign
 * object is a `conflict`: reported, never forced. An owned object with the desired key that
 * cannot be changed in place is `recreate`d (delete + add for routes and nexthops, whose keys are
 * unique; add + delete for rules, which can coexist with an equal-keyed rule).
 *
 * Ownership is data: {@link ObjectKind.owner} classifies each actual object as ours, foreign or
 * the kernel's; only `ours` is ever changed or deleted.
 */

export type Owner = 'ours' | 'foreign' | 'kernel';

/** What the reconciler needs to know about one kind of kernel object (rtnl's per-kind verbs). */
export interface ObjectKind<T> {
  name: string;
  key(o: T): string;
  /** `actual` is exactly what `desired` asks for. */
  equals(actual: T, desired: T): boolean;
  /** The kernel can turn `actual` into `desired` in place. */
  canReplace(actual: T, desired: T): boolean;
  describe(o: T): string;
  owner(o: T): Owner;
  /** Two objects with the same key can exist at once (rules): add the new one before deleting the old. */
  coexist: boolean;
  /** Creation rank within the kind (nexthops before the groups that use them); deletion runs in reverse. */
  rank?(o: T): number;
}

export type Step<T> =
  | { op: 'add'; obj: T }
  | { op: 'replace'; from: T; obj: T }
  | { op: 'recreate'; from: T; obj: T }
  | { op: 'delete'; obj: T }
  | { op: 'conflict'; obj: T; with: T };

export interface Diff<T> {
  /** Creations, replacements, recreations and conflicts, in creation order. */
  create: Step<T>[];
  /** Deletions of owned objects nothing desires, in deletion order. */
  remove: Step<T>[];
  unchanged: number;
}

export function diff<T>(kind: ObjectKind<T>, actual: readonly T[], desired: readonly T[]): Diff<T> {
  const marked = new Map<string, T[]>();
  const foreign = new Map<string, T>();
  for (const a of actual) {
    const k = kind.key(a);
    if (kind.owner(a) === 'ours') marked.set(k, [...(marked.get(k) ?? []), a]);
    else if (!foreign.has(k)) foreign.set(k, a);
  }
  const create: Step<T>[] = [];
  let unchanged = 0;
  const seen = new Set<string>();
  for (const d of desired) {
    const k = kind.key(d);
    const sig = `${k}\u0000${kind.describe(d)}`;
    if (seen.has(sig)) continue;
    seen.add(sig);
    const candidates = marked.get(k) ?? [];
    const same = candidates.find((c) => kind.equals(c, d));
    if (same) {
      unmark(marked, k, same);
      unchanged++;
      continue;
    }
    const f = foreign.get(k);
    if (f && !kind.coexist) {
      create.push({ op: 'conflict', obj: d, with: f });
      continue;
    }
    const repl = candidates.find((c) => kind.canReplace(c, d));
    if (repl) {
      unmark(marked, k, repl);
      create.push({ op: 'replace', from: repl, obj: d });
      continue;
    }
    const old = candidates[0];
    if (old && !kind.coexist) {
      unmark(marked, k, old);
      create.push({ op: 'recreate', from: old, obj: d });
      continue;
    }
    create.push({ op: 'add', obj: d });
  }
  const rank = (o: T) => kind.rank?.(o) ?? 0;
  create.sort((a, b) => rank(a.obj) - rank(b.obj));
  const remove: Step<T>[] = [...marked.values()].flat().map((obj) => ({ op: 'delete' as const, obj }));
  remove.sort((a, b) => rank(b.obj) - rank(a.obj));
  return { create, remove, unchanged };
}

function unmark<T>(marked: Map<string, T[]>, k: string, o: T): void {
  const rest = (marked.get(k) ?? []).filter((x) => x !== o);
  if (rest.length > 0) marked.set(k, rest);
  else marked.delete(k);
}
