/**
 * Network namespace primitives for the lab, the lab tests and the benchmarks.
 *
 * Safety contract: every namespace made here is named `wanbraid-<runid>-<node>`, so it can never
 * collide with the host's or another run's; {@link NamespaceSet.destroy} removes them all, and
 * {@link NamespaceSet.create} registers an exit hook so that they are removed even when a test
 * fails or the process is interrupted. Nothing here touches the root namespace: every command
 * runs with `ip -n NS` or `ip netns exec NS`.
 */
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { exec, type ExecOptions, type ExecResult } from '../util/exec.js';
import { WanbraidError } from '../errors.js';

export const NS_PREFIX = 'wanbraid-';

/** A fresh run id: 6 hex characters. */
export function newRunId(): string {
  return randomBytes(3).toString('hex');
}

export function nsName(runId: string, node: string): string {
  return `${NS_PREFIX}${runId}-${node}`;
}

export async function listNetns(): Promise<string[]> {
  const r = await exec(['ip', '-j', 'netns', 'list'], { allowFail: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as { name: string }[]).map((n) => n.name);
}

/** Run a program inside a namespace. */
export function nsExec(ns: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
  return exec(['ip', 'netns', 'exec', ns, ...argv], opts);
}

/** Start a long-running program inside a namespace; the caller owns the child and must end it by PID. */
export function nsSpawn(ns: string, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Apply `ip` commands (one per line, without the leading `ip`) in one `ip -batch` run. */
export async function ipBatch(ns: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await exec(['ip', '-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** Apply `tc` commands (one per line, without the leading `tc`) in one `tc -batch` run. */
export async function tcBatch(ns: string, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  await exec(['tc', '-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** Run the node binary that runs us, inside a namespace, on one of the project's compiled scripts. */
export function nodeArgv(script: string, args: readonly string[] = []): string[] {
  return [process.execPath, script, ...args];
}

const live = new Set<NamespaceSet>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const cleanupSync = () => {
    for (const set of live) set.destroySync();
  };
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanupSync();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** A group of namespaces belonging to one run; children started with {@link spawn} are ended on destroy. */
export class NamespaceSet {
  readonly runId: string;
  readonly names = new Map<string, string>();
  private readonly children = new Set<ChildProcess>();

  private constructor(runId: string) {
    this.runId = runId;
  }

  static async create(nodes: readonly string[], runId: string = newRunId()): Promise<NamespaceSet> {
    const set = new NamespaceSet(runId);
    hookExit();
    live.add(set);
    try {
      for (const node of nodes) {
        const name = nsName(runId, node);
        await exec(['ip', 'netns', 'add', name]);
        set.names.set(node, name);
        await exec(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
      }
    } catch (err) {
      await set.destroy();
      throw err;
    }
    return set;
  }

  /**
   * Take over namespaces an earlier process created and {@link release}d (e.g. `wanbraid lab up`),
   * to use or destroy them. Every name must be this run's: `wanbraid-<runId>-<node>`.
   */
  static adopt(runId: string, names: Readonly<Record<string, string>>): NamespaceSet {
    const set = new NamespaceSet(runId);
    for (const [node, name] of Object.entries(names)) {
      if (name !== nsName(runId, node)) throw new WanbraidError('WB_LAB', `namespace "${name}" of node "${node}" is not named ${nsName(runId, node)}`);
      set.names.set(node, name);
    }
    return set;
  }

  /**
   * Stop owning the namespaces: they, and the children started here, outlive this process
   * (no exit hook, no destroy) until another process {@link adopt}s and destroys them.
   */
  release(): void {
    // Unreferenced, the children no longer keep this process's event loop alive (children started
    // with piped stdio still would: give long-lived ones files instead).
    for (const c of this.children) c.unref();
    this.children.clear();
    live.delete(this);
  }

  ns(node: string): string {
    const n = this.names.get(node);
    if (!n) throw new Error(`no namespace for node "${node}" in run ${this.runId}`);
    return n;
  }

  exec(node: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return nsExec(this.ns(node), argv, opts);
  }

  spawn(node: string, argv: readonly string[], opts?: SpawnOptions): ChildProcess {
    const child = nsSpawn(this.ns(node), argv, opts);
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  ip(node: string, lines: readonly string[]): Promise<void> {
    return ipBatch(this.ns(node), lines);
  }

  /** End our children (by PID), then delete the namespaces. Safe to call twice. */
  async destroy(): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => {
              c.kill('SIGKILL');
            }, 3000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    for (const name of this.names.values()) {
      await killNamespacePids(name);
      await exec(['ip', 'netns', 'del', name], { allowFail: true });
    }
    this.names.clear();
    live.delete(this);
  }

  /** Last-resort cleanup from an exit hook: synchronous. */
  destroySync(): void {
    for (const c of this.children) if (c.pid) tryKill(c.pid, 'SIGKILL');
    for (const name of this.names.values()) {
      try {
        const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '';
        for (const p of pids.split('\n').filter(Boolean)) tryKill(Number(p), 'SIGKILL');
        spawnSync('ip', ['netns', 'del', name]);
      } catch {
        /* best effort at exit */
      }
    }
    this.names.clear();
  }
}

/**
 * Processes still inside a namespace we created (iperf3 servers, a daemon that did not stop)
 * were started by this run: end them by PID, as listed by `ip netns pids` for our own namespace.
 */
async function killNamespacePids(ns: string): Promise<void> {
  const r = await exec(['ip', 'netns', 'pids', ns], { allowFail: true });
  const pids = r.stdout.split('\n').filter(Boolean).map(Number).filter((p) => p > 1 && p !== process.pid);
  for (const p of pids) tryKill(p, 'SIGTERM');
  if (pids.length === 0) return;
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && pids.some(alive)) await new Promise((r) => setTimeout(r, 50));
  for (const p of pids) if (alive(p)) tryKill(p, 'SIGKILL');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tryKill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}
