/**
 * The whole daemon, fault to kernel: `wanbraid run` with the shipped example config in the lab's
 * router (3 links, default probe settings), one link at a time blackholed inside its ISP or
 * losing carrier. Measured from just before the fault is applied to the arrival, on the control
 * socket, of the `link` event (state offline) and of the `plan` event that follows it (the kernel
 * no longer balances onto the link and its flows were flushed and nudged). The goals are the sum
 * of issue 3's detection goals and issue 4's apply goal (p99 50 ms): no new reference applies.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { goal, summary, type Benchmark } from './harness.js';
import { Lab } from '../src/lab/lab.js';
import { subscribe } from '../src/status/client.js';
import { DaemonProcess } from '../test/lab/harness/daemon.js';

const EXAMPLE = readFileSync(new URL('../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');

interface Ev {
  at: number;
  e: Record<string, unknown>;
}

export class Events {
  readonly list: Ev[] = [];
  private wake: (() => void) | undefined;
  private readonly ac = new AbortController();
  constructor(sock: string) {
    void (async () => {
      for await (const e of subscribe(sock, this.ac.signal)) {
        this.list.push({ at: performance.now(), e });
        this.wake?.();
      }
    })().catch(() => undefined);
  }
  async wait(what: string, pred: (e: Record<string, unknown>) => boolean, from: number, timeoutMs = 15_000): Promise<Ev> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.list.slice(from).find((x) => pred(x.e));
      if (hit) return hit;
      if (performance.now() > end) throw new Error(`daemon-failover: no ${what} within ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((r) => (this.wake = r)), sleep(100)]);
    }
  }
  close(): void {
    this.ac.abort();
  }
}

export const benchmark: Benchmark = {
  name: 'daemon-failover',
  description: 'the whole daemon: blackhole or carrier loss to the link offline and the kernel re-planned',
  async run(ctx) {
    const lab = await Lab.up({ links: 3, services: false });
    let d: DaemonProcess | undefined;
    let ev: Events | undefined;
    try {
      d = await DaemonProcess.start(lab.ns('router'), EXAMPLE, { env: { WANBRAID_LOG_LEVEL: 'info' } });
      ev = new Events(d.socketPath);
      const events = ev;
      const isLink = (name: string, state: string) => (e: Record<string, unknown>) => e.event === 'link' && e.link === name && e.state === state;
      const daemon = d;
      for (const l of ['wan1', 'wan2', 'wan3']) await daemon.waitForLog((x) => x.link === l && x.state === 'online' && typeof x.prev === 'string', 20_000);
      await sleep(1000);
      const trials = ctx.quick ? 3 : 20;
      const out: Record<'blackhole' | 'carrier', { detect: number[]; applied: number[] }> = { blackhole: { detect: [], applied: [] }, carrier: { detect: [], applied: [] } };
      for (const kind of ['blackhole', 'carrier'] as const) {
        const n = kind === 'blackhole' ? trials : Math.max(3, trials / 2);
        for (let i = 0; i < n; i++) {
          const link = `wan${(i % 3) + 1}`;
          // Land faults at different points of the probe cadence.
          await sleep(1000 + Math.random() * 500);
          const from = events.list.length;
          const t0 = performance.now();
          await lab.fault(link, { kind: kind === 'blackhole' ? 'blackhole' : 'carrier-down' });
          const off = await events.wait(`${link} offline`, isLink(link, 'offline'), from);
          const applied = await events.wait(`plan after ${link} offline`, (e) => e.event === 'plan' && e.why === `link ${link}`, events.list.indexOf(off));
          out[kind].detect.push(off.at - t0);
          out[kind].applied.push(applied.at - t0);
          ctx.progress(`${kind} ${link}: offline after ${(off.at - t0).toFixed(0)} ms, kernel re-planned after ${(applied.at - t0).toFixed(0)} ms`);
          const back = events.list.length;
          await lab.fault(link, { kind: kind === 'blackhole' ? 'clear' : 'carrier-up' });
          await events.wait(`${link} online again`, isLink(link, 'online'), back);
        }
      }
      const b = summary(out.blackhole.applied);
      const c = summary(out.carrier.applied);
      return {
        goals: [
          goal('blackhole → kernel re-planned, median (detection ≤ 1500 + apply ≤ 50)', b.median, 'ms', '<=', 1550),
          goal('blackhole → kernel re-planned, worst (detection ≤ 2000 + apply ≤ 50)', b.max, 'ms', '<=', 2050),
          goal('carrier loss → kernel re-planned, worst (detection ≤ 200 + apply ≤ 50)', c.max, 'ms', '<=', 250),
        ],
        data: {
          blackhole: { detectMs: summary(out.blackhole.detect), appliedMs: b, samples: out.blackhole },
          carrier: { detectMs: summary(out.carrier.detect), appliedMs: c, samples: out.carrier },
        },
      };
    } finally {
      ev?.close();
      await d?.stop();
      d?.cleanup();
      await lab.down();
    }
  },
};
