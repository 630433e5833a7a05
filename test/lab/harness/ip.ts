/**
 * `ip -j` from a lab test, parsed: the reference the adapters are checked against.
 *
 *   const routes = await ipJson<IpRoute>(set, 'r', ['route', 'show', 'table', '20101']);
 *   const v6 = await ipJson(set, 'r', ['-6', 'route', 'show', 'table', '20101']);
 */
import type { NamespaceSet } from '../../../src/lab/netns.js';

/** Run `ip -j ARGS` in `node`'s namespace and parse the output ([] when ip prints nothing). */
export async function ipJson<T = Record<string, unknown>>(set: NamespaceSet, node: string, args: readonly string[]): Promise<T[]> {
  const r = await set.exec(node, ['ip', '-j', ...args]);
  const text = r.stdout.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

/** The listed keys of each object, absent keys left out: compare ip's output on the fields that matter. */
export function pick<T extends object>(items: readonly T[], keys: readonly string[]): Record<string, unknown>[] {
  return items.map((o) => Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, (o as Record<string, unknown>)[k]])));
}

/**
 * `ip -6 route show table all` output without the entries the kernel makes on its own schedule
 * (local and link-local routes after carrier and DAD, multicast): what software installed.
 */
export function softwareRoutes6(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/ table local |^fe80::|^multicast /.test(l))
    .join('\n');
}
