/**
 * What the daemon tests read back from the lab's router: the default route's nexthop group, a
 * bounded wait for kernel state to converge, and a matcher for the daemon's link-state log lines.
 *
 *   await becomes(() => defaultGroup(lab), { wan1: 5, wan2: 3 });   // polled, then asserted
 *   await d.waitForLog(stateLine('wan1', 'offline'), 10_000, mark);
 */
import assert from 'node:assert/strict';
import type { Lab } from '../../../src/lab/lab.js';
import type { LogLine } from './daemon.js';

interface NhJson {
  id: number;
  dev?: string;
  gateway?: string;
  group?: { id: number; weight?: number }[];
}

/** The default route's nexthop group: device → {weight, gateway} (empty when there is none). */
export async function defaultGroupMembers(lab: Lab): Promise<Record<string, { weight: number; gateway: string | null }>> {
  const r = await lab.exec('router', ['ip', '-j', 'nexthop', 'show'], { allowFail: true });
  const nhs = r.stdout.trim() ? (JSON.parse(r.stdout) as NhJson[]) : [];
  const byId = new Map(nhs.map((n) => [n.id, n]));
  const out: Record<string, { weight: number; gateway: string | null }> = {};
  for (const m of nhs.find((n) => n.group)?.group ?? []) {
    const nh = byId.get(m.id)!;
    out[nh.dev!] = { weight: m.weight ?? 1, gateway: nh.gateway ?? null };
  }
  return out;
}

/** The default route's nexthop group: device → weight. */
export async function defaultGroup(lab: Lab): Promise<Record<string, number>> {
  return Object.fromEntries(Object.entries(await defaultGroupMembers(lab)).map(([dev, m]) => [dev, m.weight]));
}

/**
 * Reads `read()` until it equals `want` (every 50 ms, up to `timeoutMs`), then asserts it: health
 * logs a change before the (coalesced) apply that follows it is done, so tests wait for the kernel.
 */
export async function becomes<T>(read: () => Promise<T>, want: T, message?: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let got = await read();
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    got = await read();
  }
  assert.deepEqual(got, want, message);
}

/** Matches the daemon's log line for `link` entering `state` (a change, not the first report). */
export const stateLine = (link: string, state: string) => (l: LogLine) => l.link === link && l.state === state && typeof l.prev === 'string';
