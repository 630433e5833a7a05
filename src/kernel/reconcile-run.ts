/**
 * The executing half of the reconciler for routing objects: read what the kernel has, diff
 * (reconcile.ts), apply, and report `{op, ok, detail}` per object so that a failure is retried on
 * the next run rather than aborting the rest.
 *
 * Order, so that nothing is ever referenced before it exists or deleted while still used:
 *   nexthops (singles, then groups) → routes → rules added → stale rules deleted
 *   → stale routes deleted → stale nexthops deleted (groups, then singles).
 * A recreated group takes the routes using it down with it, so routes are read again after one.
 * Between steps `superseded()` is asked: when a newer desired state is waiting, the run stops
 * and reports the steps it skipped; the newer run starts from a fresh read.
 */
import { errorMessage } from '../errors.js';
import { diff, type Diff, type ObjectKind, type Step } from './reconcile.js';

/** The verbs for one kind, bound to a socket (rtnl's list/add/replace/remove). */
export interface KindIO<T> {
  list(): Promise<T[]>;
  add(o: T): Promise<void>;
  replace(o: T): Promise<void>;
  remove(o: T): Promise<void>;
}

export interface Managed<T> {
  kind: ObjectKind<T>;
  io: KindIO<T>;
  desired: readonly T[];
}

export interface ObjectResult {
  kind: string;
  op: Step<unknown>['op'];
  object: string;
  ok: boolean;
  detail?: string;
}

export interface ReconcileReport {
  results: ObjectResult[];
  unchanged: number;
  /** Stopped early because a newer desired state arrived. */
  superseded: boolean;
  /** Steps not run because of that. */
  skipped: number;
}

export interface RoutingObjects<N, R, U> {
  nexthops: Managed<N>;
  routes: Managed<R>;
  rules: Managed<U>;
}

/** Errors that mean "already as wanted" for a delete. */
const GONE = new Set(['ENOENT', 'ESRCH']);

class Run {
  readonly results: ObjectResult[] = [];
  unchanged = 0;
  skipped = 0;
  stopped = false;
  constructor(private readonly superseded: () => boolean) {}

  async exec<T>(m: Managed<T>, steps: readonly Step<T>[]): Promise<void> {
    for (const s of steps) {
      if (this.stopped || this.superseded()) {
        this.stopped = true;
        this.skipped++;
        continue;
      }
      const object = m.kind.describe(s.obj);
      const base = { kind: m.kind.name, op: s.op, object };
      try {
        switch (s.op) {
          case 'add':
            await m.io.add(s.obj);
            break;
          case 'replace':
            await m.io.replace(s.obj);
            break;
          case 'recreate':
            if (m.kind.coexist) {
              await m.io.add(s.obj);
              await removeGone(m.io, s.from);
            } else {
              await removeGone(m.io, s.from);
              await m.io.add(s.obj);
            }
            break;
          case 'delete':
            await removeGone(m.io, s.obj);
            break;
          case 'conflict':
            this.results.push({ ...base, ok: false, detail: `a foreign ${m.kind.name} holds the same key: ${m.kind.describe(s.with)}; left alone` });
            continue;
        }
        this.results.push({ ...base, ok: true });
      } catch (err) {
        this.results.push({ ...base, ok: false, detail: errorMessage(err) });
      }
    }
  }
}

async function removeGone<T>(io: KindIO<T>, o: T): Promise<void> {
  try {
    await io.remove(o);
  } catch (err) {
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno === 'string' && GONE.has(errno)) return;
    throw err;
  }
}

export async function reconcileRouting<N, R, U>(objs: RoutingObjects<N, R, U>, superseded: () => boolean = () => false): Promise<ReconcileReport> {
  const run = new Run(superseded);
  const { nexthops, routes, rules } = objs;
  const dN = diff(nexthops.kind, await nexthops.io.list(), nexthops.desired);
  let dR = diff(routes.kind, await routes.io.list(), routes.desired);
  const dU = diff(rules.kind, await rules.io.list(), rules.desired);

  await run.exec(nexthops, dN.create);
  if (dN.create.some((s) => s.op === 'recreate') && !run.stopped) dR = diff(routes.kind, await routes.io.list(), routes.desired);
  await run.exec(routes, dR.create);
  await run.exec(rules, dU.create);
  await run.exec(rules, dU.remove);
  await run.exec(routes, dR.remove);
  await run.exec(nexthops, dN.remove);
  run.unchanged = dN.unchanged + dR.unchanged + dU.unchanged;
  return { results: run.results, unchanged: run.unchanged, superseded: run.stopped, skipped: run.skipped };
}

/** Steps a diff would take (for dry runs and tests). */
export function pendingSteps<T>(d: Diff<T>): number {
  return d.create.length + d.remove.length;
}
