/**
 * Parent side of probe-driver.ts: start it in a namespace and call it. Replies are matched by id;
 * `{event}` lines are kept in `events` (and handed to waiters) for the test to inspect.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { NamespaceSet } from '../../../src/lab/netns.js';
import { nodeArgv } from '../../../src/lab/netns.js';

export type DriverEvent = { event: string; [k: string]: unknown };

export class Driver {
  readonly events: DriverEvent[] = [];
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>();
  private readonly eventWaiters: { test: (e: DriverEvent) => boolean; resolve: (e: DriverEvent) => void }[] = [];
  private stderr = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    child.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    child.once('exit', (code, signal) => {
      // A crashed driver fails its callers at once rather than at their timeouts.
      for (const [id, w] of this.waiting) w({ id, error: `driver exited (${signal ?? code}); stderr: ${this.stderr}` });
      this.waiting.clear();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as Record<string, unknown>;
      if (typeof msg.id === 'number') {
        this.waiting.get(msg.id)?.(msg);
        this.waiting.delete(msg.id);
        return;
      }
      const ev = msg as DriverEvent;
      this.events.push(ev);
      for (const w of [...this.eventWaiters]) {
        if (w.test(ev)) {
          this.eventWaiters.splice(this.eventWaiters.indexOf(w), 1);
          w.resolve(ev);
        }
      }
    });
  }

  static async start(set: NamespaceSet, node: string, env: NodeJS.ProcessEnv = process.env): Promise<Driver> {
    const script = new URL('./probe-driver.js', import.meta.url).pathname;
    const child = set.spawn(node, nodeArgv(script), { stdio: ['pipe', 'pipe', 'pipe'], env });
    const d = new Driver(child);
    await d.event((e) => e.event === 'ready', 10_000);
    return d;
  }

  event(test: (e: DriverEvent) => boolean, timeoutMs = 5000): Promise<DriverEvent> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`driver: no matching event in ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.eventWaiters.push({ test, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  }

  call<T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`driver: ${op} got no reply in ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(t);
        if (typeof reply.error === 'string') reject(new Error(`driver: ${op}: ${reply.error}`));
        else resolve(reply as T);
      });
      this.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  /** End the driver: closing stdin makes it close its probers and exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    await exited;
  }
}
