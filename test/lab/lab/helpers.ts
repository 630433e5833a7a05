/** Small helpers shared by the lab's own tests. */
import { exec } from '../../../src/util/exec.js';
import type { Testbed } from '../../../src/lab/testbed.js';
import type { Lab } from '../../../src/lab/lab.js';
import { CLIENT_SCRIPT } from '../../../src/lab/topology.js';

/** Replies received by `count` pings from `node` with source `src` (IPv4 or IPv6 by `dst`), each awaited `waitS` seconds. */
export async function pings(lab: Testbed<unknown>, node: string, src: string, dst: string, count = 3, waitS = 0.4): Promise<number> {
  const r = await lab.exec(node, ['ping', '-n', '-q', '-c', String(count), '-i', '0.02', '-W', String(waitS), '-I', src, dst], { allowFail: true });
  const m = /(\d+) received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** Interface names of the root namespace (the lab must leave them as they were). */
export async function rootLinks(): Promise<string[]> {
  const r = await exec(['ip', '-j', 'link', 'show']);
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
}

/** `ip -j link show dev` flags of one interface. */
export async function linkFlags(lab: Testbed<unknown>, node: string, dev: string): Promise<string[]> {
  const r = await lab.exec(node, ['ip', '-j', 'link', 'show', 'dev', dev]);
  return (JSON.parse(r.stdout) as { flags: string[] }[])[0]!.flags;
}

/** Run the lab client (src/lab/client.ts) in a node; returns its JSON result and exit code. */
export async function client(lab: Testbed<unknown>, node: string, args: string[]): Promise<{ code: number; result: Record<string, unknown> & { ok: boolean } }> {
  const r = await lab.exec(node, [process.execPath, CLIENT_SCRIPT, ...args], { allowFail: true });
  let result: Record<string, unknown> & { ok: boolean };
  try {
    result = JSON.parse(r.stdout) as typeof result;
  } catch {
    result = { ok: false, stdout: r.stdout, stderr: r.stderr };
  }
  return { code: r.code, result };
}

/**
 * Whether a path is back after a fault is cleared. A neighbour entry that went INCOMPLETE while
 * the path was down is retried only on its next ARP/ND retransmission (retrans_time, 1 s): one
 * ping queued behind it gets its reply within ~1 s, so it is given 3 s.
 */
export async function recovers(lab: Testbed<unknown>, node: string, src: string, dst: string): Promise<boolean> {
  return (await pings(lab, node, src, dst, 1, 3)) === 1;
}

/** Per-link source routing in the router (table 100+N, `from <link address>` rules, both families): traffic from a link's address leaves by that link. */
export async function sourceRouteLinks(lab: Lab): Promise<void> {
  for (const l of lab.addr.links) {
    const table = String(100 + l.index);
    await lab.ip('router', [`route add default via ${l.gateway4} dev ${l.iface} table ${table}`, `route add ::/0 via ${l.gateway6} dev ${l.iface} table ${table}`, `rule add from ${l.router4} lookup ${table}`]);
    await lab.exec('router', ['ip', '-6', 'rule', 'add', 'from', l.router6, 'lookup', table]);
  }
}
