/**
 * What the two lab topologies share once they are up: their namespaces, running programs in
 * them, faults per link, the services, and teardown. {@link Lab} and {@link RelayLab} (lab.ts)
 * add how each is built.
 *
 * Lifetime: a testbed belongs to the process that brought it up and is destroyed with it (even
 * on a failed test or Ctrl-C) unless {@link Testbed.detach}ed; a detached testbed is described by
 * a JSON {@link LabRecord} from which another process can {@link attachRecord} it and call
 * `down`. Not safe for concurrent `fault` calls on the same link.
 */
import { rm } from 'node:fs/promises';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { NamespaceSet } from './netns.js';
import { faultCommands, parseFaultState, FAULT_TABLE, type Fault, type FaultState, type FaultTarget } from './faults.js';
import type { TopologyKind, TopologyPlan } from './plan.js';
import type { ServiceRecord } from './topology.js';
import type { LinkRate } from './rate.js';
import { resolveDelay, type DelaySpec, type DelayState } from './delay.js';
import { applyDelay, delayState, removeDelay } from './delay-element.js';
import { exec, type ExecOptions, type ExecResult } from '../util/exec.js';
import { WanbraidError } from '../errors.js';

/** A lab as JSON: enough for another process to find, use and tear it down. */
export interface LabRecord {
  version: 1;
  kind: TopologyKind;
  runId: string;
  /** ISO 8601. */
  createdAt: string;
  /** The lab's own directory (certificate, service logs); removed by `down`. */
  dir: string;
  /** Links (wan) or paths (relay). */
  count: number;
  rates: LinkRate[];
  /** Per link, the profile it was built with (docs/lab.md); absent in records of older labs. */
  profiles?: (string | null)[];
  /** node → namespace name. */
  namespaces: Record<string, string>;
  services: ServiceRecord[];
}

export interface TestbedInit<A> {
  kind: TopologyKind;
  runId: string;
  set: NamespaceSet;
  plan: TopologyPlan;
  addr: A;
  dir: string;
  rates: LinkRate[];
  services: ServiceRecord[];
  createdAt: string;
  profiles?: (string | null)[];
}

export class Testbed<A> {
  readonly kind: TopologyKind;
  readonly runId: string;
  /** The addressing data of this lab (addressing.ts). */
  readonly addr: A;
  readonly plan: TopologyPlan;
  /** The lab's own directory (certificate, service logs). */
  readonly dir: string;
  /** Per link/path, as configured. */
  readonly rates: readonly LinkRate[];
  readonly services: readonly ServiceRecord[];
  readonly createdAt: string;
  /** Per link/path, the profile it was built with, or null. */
  readonly profiles: readonly (string | null)[];
  protected readonly set: NamespaceSet;
  private gone = false;

  protected constructor(init: TestbedInit<A>) {
    this.kind = init.kind;
    this.runId = init.runId;
    this.set = init.set;
    this.plan = init.plan;
    this.addr = init.addr;
    this.dir = init.dir;
    this.rates = init.rates;
    this.services = init.services;
    this.createdAt = init.createdAt;
    this.profiles = init.profiles ?? init.plan.faults.map(() => null);
  }

  /**
   * The lab's namespaces, for helpers that take a {@link NamespaceSet} (e.g. the test harness's
   * `Driver.start(lab.namespaces, 'router', ops)`); what they spawn is ended at {@link down}.
   */
  get namespaces(): NamespaceSet {
    return this.set;
  }

  /** Node names, in creation order. */
  get nodes(): string[] {
    return this.plan.nodes.map((n) => n.node);
  }

  /** The namespace name of a node (for `ip -n` / `ip netns exec`). */
  ns(node: string): string {
    return this.set.ns(node);
  }

  /** Run a program in a node and wait for it (throws on a non-zero exit unless `allowFail`). */
  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.set.exec(node, argv, opts);
  }

  /** Start a long-running program in a node; it is ended (by PID) at {@link down}. */
  spawn(node: string, argv: readonly string[], opts?: SpawnOptions): ChildProcess {
    return this.set.spawn(node, argv, opts);
  }

  /** Apply `ip` batch lines in a node. */
  ip(node: string, lines: readonly string[]): Promise<void> {
    return this.set.ip(node, lines);
  }

  /** Resolve a link by name (`wan2`, `path2`), number (2), or its middle node (`isp2`, `hop2`). */
  target(link: string | number): FaultTarget {
    const t = this.plan.faults.find((f) => f.index === link || f.link === link || f.node === link || String(f.index) === link);
    if (!t) {
      const names = this.plan.faults.map((f) => f.link).join(', ');
      throw new WanbraidError('WB_LAB', `no link "${link}" in this lab (links: ${names})`);
    }
    return t;
  }

  /** Inject or clear a fault on one link; returns once the kernel (or the delay element) has it. `clear` also takes the delay away. */
  async fault(link: string | number, fault: Fault): Promise<void> {
    const t = this.target(link);
    if (fault.kind === 'delay') {
      await applyDelay(this.set, t, this.dir, fault.delay);
      return;
    }
    const cmds = faultCommands(t, fault);
    if (cmds.nft) await this.set.exec(t.node, ['nft', '-f', '-'], { input: cmds.nft });
    if (cmds.ip) await this.set.ip(t.node, cmds.ip);
    if (fault.kind === 'clear') await removeDelay(this.set, t, this.dir);
  }

  /**
   * Put a delay element on one link (ISP or relay hop), or change the one it has: `'30ms±5ms'`
   * both ways, `'10ms/30ms±5ms'` down/up, a {@link LinkDelay}; `null` or `'none'` takes it away.
   * Settings apply to packets arriving from then on. Returns the element's state (null: none).
   */
  async delay(link: string | number, spec: DelaySpec): Promise<DelayState | null> {
    const t = this.target(link);
    return applyDelay(this.set, t, this.dir, resolveDelay(spec, `delay of ${t.link}`));
  }

  /** The link's delay element: its settings and counters, or null when it has none. */
  async delayState(link: string | number): Promise<DelayState | null> {
    return delayState(this.dir, this.target(link));
  }

  /** What is applied to a link now, read from the kernel. */
  async faultState(link: string | number): Promise<FaultState> {
    const t = this.target(link);
    const [nft, ln] = await Promise.all([
      this.set.exec(t.node, ['nft', '-j', 'list', 'table', 'inet', FAULT_TABLE], { allowFail: true }),
      this.set.exec(t.node, ['ip', '-j', 'link', 'show', 'dev', t.carrierDev]),
    ]);
    return parseFaultState(nft.code === 0 ? nft.stdout : '', ln.stdout);
  }

  /** The lab as JSON, for {@link attachRecord} in another process. */
  record(): LabRecord {
    return {
      version: 1,
      kind: this.kind,
      runId: this.runId,
      createdAt: this.createdAt,
      dir: this.dir,
      count: this.plan.faults.length,
      rates: [...this.rates],
      profiles: [...this.profiles],
      namespaces: Object.fromEntries(this.set.names),
      services: [...this.services],
    };
  }

  /** Let the lab outlive this process; returns its record. */
  detach(): LabRecord {
    this.set.release();
    return this.record();
  }

  /**
   * End the services (by their recorded PIDs, each checked to still be inside its namespace), then
   * every other process in the lab's namespaces, delete the namespaces (and with them every
   * interface), and remove the lab's directory. Safe to call twice.
   */
  async down(): Promise<void> {
    if (this.gone) return;
    for (const s of this.services) {
      const where = await exec(['ip', 'netns', 'identify', String(s.pid)], { allowFail: true });
      if (where.code === 0 && where.stdout.trim() === this.set.names.get(s.node)) {
        try {
          process.kill(s.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
      }
    }
    await this.set.destroy();
    await rm(this.dir, { recursive: true, force: true });
    this.gone = true;
  }
}
