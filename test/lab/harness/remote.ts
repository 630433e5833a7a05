/**
 * Lab driver, parent half: start driver.js inside a namespace of a {@link NamespaceSet}, call its
 * named operations and wait for what it streams. See README.md in this directory.
 *
 *   const d = await Driver.start(set, 'r', opsModulePath(import.meta.url, './rtnl-ops.js'));
 *   await d.call('route.add', {...});                        // resolves with the op's result
 *   const c = d.cursor('event');                             // remember where the stream is
 *   await set.ip('r', ['link set v0 down']);
 *   await d.waitFor('event', (e) => ..., { since: c });      // event-driven, with an upper bound
 *
 * A failed operation rejects with a {@link RemoteError} that has the child's error fields (name,
 * code, errno, extack, op). Waits have generous upper bounds (default 10 s) and fail with the
 * stream's recent content, so a missing event is diagnosable. The child is ended by PID on
 * {@link Driver.stop} (and by NamespaceSet.destroy, which owns it).
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { NamespaceSet } from '../../../src/lab/netns.js';

/** The child's error, rebuilt: `name` is the remote class name (e.g. KernelError). */
export class RemoteError extends Error {
  readonly code: string | undefined;
  readonly errno: string | undefined;
  readonly extack: string | undefined;
  readonly op: string | undefined;
  readonly remoteName: string;
  constructor(fields: Record<string, unknown>) {
    const str = (k: string): string | undefined => {
      const v = fields[k];
      return typeof v === 'string' ? v : undefined;
    };
    super(str('message') ?? 'remote error');
    this.remoteName = str('name') ?? 'Error';
    this.name = this.remoteName;
    this.code = str('code');
    this.errno = str('errno');
    this.extack = str('extack');
    this.op = str('op');
    if (typeof fields.stack === 'string') this.stack = `${this.name}: ${this.message}\n    (in the namespace)\n${fields.stack.split('\n').slice(1).join('\n')}`;
  }
}

/** Absolute path of a compiled ops module next to the calling test: `opsModulePath(import.meta.url, './x-ops.js')`. */
export function opsModulePath(fromUrl: string, relative: string): string {
  return fileURLToPath(new URL(relative, fromUrl));
}

const DRIVER = fileURLToPath(new URL('./driver.js', import.meta.url));

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: Record<string, unknown>;
  stream?: string;
  data?: unknown;
  ready?: boolean;
}

export interface WaitOptions {
  /** Only consider items from this index on (see {@link Driver.cursor}); default 0. */
  since?: number;
  /** Upper bound in milliseconds (default 10000). */
  timeoutMs?: number;
}

export class Driver {
  private nextId = 1;
  private readonly calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly streams = new Map<string, unknown[]>();
  private readonly waiters = new Set<() => void>();
  private stderr = '';
  private exited: string | undefined;

  private constructor(private readonly child: ChildProcess) {}

  /** Start the driver in `node`'s namespace with the given ops module (an absolute .js path). */
  static async start(set: NamespaceSet, node: string, opsModule: string, timeoutMs = 15_000): Promise<Driver> {
    const child = set.spawn(node, [process.execPath, DRIVER, opsModule], { stdio: ['pipe', 'pipe', 'pipe'] });
    const d = new Driver(child);
    const ready = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`driver in ${node} not ready after ${timeoutMs} ms; stderr: ${d.stderr}`)), timeoutMs);
      d.onReady = () => {
        clearTimeout(t);
        resolve();
      };
      d.onExit = (why) => {
        clearTimeout(t);
        reject(new Error(`driver in ${node} exited before ready (${why}); stderr: ${d.stderr}`));
      };
    });
    child.stderr!.on('data', (b: Buffer) => (d.stderr += b.toString()));
    createInterface({ input: child.stdout! }).on('line', (l) => d.onLine(l));
    child.on('exit', (code, signal) => {
      d.exited = `exit ${code ?? signal}`;
      d.onExit(d.exited);
      for (const [, c] of d.calls) c.reject(new Error(`driver exited (${d.exited}); stderr: ${d.stderr}`));
      d.calls.clear();
      for (const w of d.waiters) w();
    });
    await ready;
    return d;
  }

  private onReady: () => void = () => undefined;
  private onExit: (why: string) => void = () => undefined;

  private onLine(line: string): void {
    let m: Reply;
    try {
      m = JSON.parse(line) as Reply;
    } catch {
      this.stderr += `[stdout] ${line}\n`;
      return;
    }
    if (m.ready) return this.onReady();
    if (m.stream !== undefined) {
      const s = this.streams.get(m.stream) ?? [];
      s.push(m.data);
      this.streams.set(m.stream, s);
      for (const w of [...this.waiters]) w();
      return;
    }
    const c = m.id !== undefined ? this.calls.get(m.id) : undefined;
    if (!c) return;
    this.calls.delete(m.id!);
    if (m.ok) c.resolve(m.result);
    else c.reject(new RemoteError(m.error ?? {}));
  }

  /** Run operation `op` in the namespace; resolves with its result. */
  call<T = unknown>(op: string, args?: unknown, timeoutMs = 15_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`driver exited (${this.exited}); stderr: ${this.stderr}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.calls.delete(id);
        reject(new Error(`${op}: no answer from the driver within ${timeoutMs} ms`));
      }, timeoutMs);
      this.calls.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.child.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  /** Everything received on a stream so far. */
  items<T = unknown>(stream: string): readonly T[] {
    return (this.streams.get(stream) ?? []) as T[];
  }

  /** The current length of a stream: pass it as `since` to wait only for what comes after. */
  cursor(stream: string): number {
    return this.items(stream).length;
  }

  /** The first item (from `since`) that satisfies `pred`; waits for it, up to `timeoutMs`. */
  waitFor<T = unknown>(stream: string, pred: (item: T) => boolean, opts: WaitOptions = {}): Promise<T> {
    const since = opts.since ?? 0;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = this.items<T>(stream).slice(since).find(pred);
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (this.exited) {
          done();
          reject(new Error(`driver exited (${this.exited}) while waiting on "${stream}"; stderr: ${this.stderr}`));
        }
      };
      const t = setTimeout(() => {
        done();
        const recent = this.items(stream).slice(since).slice(-20);
        reject(new Error(`no matching item on "${stream}" within ${timeoutMs} ms; received since ${since}: ${JSON.stringify(recent)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Close the driver's stdin (its ops module's close() runs) and wait for it to exit; killed by PID after 5 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}
