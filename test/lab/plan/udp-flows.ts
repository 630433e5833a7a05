/**
 * The test side of udp-traffic.ts: a UDP "whoami" server in a lab node, one-shot probes and
 * censuses from the client, and long-lived flows with their per-flow statistics. Not a test file.
 */
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { Lab } from '../../../src/lab/lab.js';

const UDP = fileURLToPath(new URL('./udp-traffic.js', import.meta.url));

/** Resolves with the first JSON line of `child` that has `key`; rejects on exit or after `timeoutMs`. */
function firstLine<T>(child: ChildProcess, key: string, what: string, timeoutMs = 15_000): Promise<T> {
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no "${key}" line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => {
      const m = JSON.parse(l) as Record<string, unknown>;
      if (m.error !== undefined) {
        clearTimeout(t);
        reject(new Error(`${what}: ${JSON.stringify(m.error)}`));
      } else if (key in m) {
        clearTimeout(t);
        resolve(m[key] as T);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited (${code}); stderr: ${stderr}`));
    });
  });
}

/** The UDP whoami server on `port` of each of `hosts` in `node`; ended with the lab (or by `kill`). */
export async function udpServe(lab: Lab, node: string, hosts: readonly string[], port: number): Promise<ChildProcess> {
  const child = lab.spawn(node, [process.execPath, UDP, 'serve', JSON.stringify({ hosts, port })], { stdio: ['ignore', 'pipe', 'pipe'] });
  await firstLine(child, 'listening', `udp server in ${node}`);
  return child;
}

async function oneShot<T>(lab: Lab, mode: string, args: Record<string, unknown>, node = 'client'): Promise<T> {
  const r = await lab.exec(node, [process.execPath, UDP, mode, JSON.stringify(args)], { timeoutMs: 60_000 });
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export interface UdpProbeResult {
  ok: boolean;
  reply?: string;
  error?: string;
  ms: number;
}

/** One datagram from `node` (default the client) to host:port: answered, refused or timed out. */
export function udpProbe(lab: Lab, host: string, port: number, timeoutMs = 3000, node = 'client'): Promise<UdpProbeResult> {
  return oneShot<UdpProbeResult>(lab, 'probe', { host, port, timeoutMs }, node);
}

/** `count` new UDP flows from the client: which address the server saw each one come from. */
export function udpCensus(lab: Lab, host: string, port: number, count: number, concurrency = 16): Promise<{ seen: Record<string, number>; failures: string[] }> {
  return oneShot(lab, 'census', { host, port, count, concurrency });
}

export interface UdpFlowStats {
  id: number;
  localPort: number;
  /** Datagrams sent so far; the next one carries this sequence number. */
  sent: number;
  replies: number;
  /** Addresses the server saw the flow come from, in order, with the lowest sequence number answered from each. */
  addrs: { addr: string; firstSeq: number }[];
  errors: string[];
}

/** Long-lived UDP flows from the client (udp-traffic.ts `hold`). */
export class UdpFlows {
  private waiter: ((s: UdpFlowStats[]) => void) | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly opened: { id: number; localPort: number }[],
  ) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as { stats?: UdpFlowStats[] };
      if (m.stats) this.waiter?.(m.stats);
    });
  }

  /** Open `count` flows to host:port sending every `intervalMs`; resolves once each has an answer. */
  static async open(lab: Lab, host: string, port: number, count: number, intervalMs: number): Promise<UdpFlows> {
    const child = lab.spawn('client', [process.execPath, UDP, 'hold', JSON.stringify({ host, port, count, intervalMs })], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      const opened = await firstLine<{ id: number; localPort: number }[]>(child, 'opened', 'udp flows', 20_000);
      return new UdpFlows(child, opened);
    } catch (err) {
      child.stdin!.end();
      throw err;
    }
  }

  stats(): Promise<UdpFlowStats[]> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.child.stdin!.write('stats\n');
    });
  }

  /** Poll the statistics until `done` holds (every 100 ms, up to `timeoutMs`); the last reading either way. */
  async until(done: (s: UdpFlowStats[]) => boolean, timeoutMs = 10_000): Promise<UdpFlowStats[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.stats();
      if (done(s) || Date.now() > end) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): void {
    this.child.stdin!.end();
  }
}
