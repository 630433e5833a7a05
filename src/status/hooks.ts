/**
 * State-change hooks (the mwan3.user habit): every executable regular file in `hooks.dir` (names not
 * starting with "." and not ending in "~", in name order) runs on each link state change, with the
 * change in its environment:
 *
 *   WANBRAID_LINK     link name            WANBRAID_DEVICE   its interface
 *   WANBRAID_STATE    new state            WANBRAID_PREV     previous state
 *   WANBRAID_REASON   reason kind (e.g. probes-failed)   WANBRAID_REASON_TEXT  the reason in words
 *   WANBRAID_SINCE    ISO time of the change
 *
 * plus the daemon's own environment. Per link, at most one run is in flight and one change waits:
 * a change that arrives while an older one waits replaces it (the hooks see the newest state; a
 * link that flaps 100 times costs two runs, not 100), so the newest state's hooks run at most one
 * run late. Different links do not wait for each other. The directory is read at each change, so
 * adding a hook needs no reload.
 *
 * Trust: hooks run as the daemon (root). The directory and every hook must be owned by root (or
 * by the daemon's own uid) and writable by nobody else (no group or other write bit); otherwise
 * the directory, or that hook, is refused: logged as an error (once per file and reason) and not
 * run. {@link auditHooks} gives the same verdicts for `wanbraid check` and the daemon's start.
 *
 * A hook runs without a shell, in its own process group; after `timeoutMs` that group (the hook
 * and whatever it started) gets SIGTERM, and SIGKILL a second later; when the hook exits, what it
 * left running in its group gets SIGKILL. A hook that fails, hangs or cannot start is logged with
 * its exit code and the start of its stderr; it never stops the daemon or the next hook.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, lstat, readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';

export interface HookEvent {
  link: string;
  device: string;
  state: string;
  prev: string;
  reason: string;
  reasonText: string;
  /** Epoch milliseconds. */
  since: number;
}

/** What one hook run ended with. */
export interface HookOutcome {
  hook: string;
  /** Exit code, or undefined when it was killed or did not start. */
  code: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  /** Wall time in milliseconds. */
  durationMs: number;
  error: string | undefined;
}

const OUTPUT_LIMIT = 4096;
const KILL_GRACE_MS = 1000;

/** Why a file may not run as a hook (owner or mode), or undefined when it may. */
export function untrusted(st: Pick<Stats, 'uid' | 'mode'>, ownUid: number = process.getuid?.() ?? 0): string | undefined {
  if (st.uid !== 0 && st.uid !== ownUid) return `owned by uid ${st.uid}, not root`;
  const by = [(st.mode & 0o020) !== 0 ? 'its group' : '', (st.mode & 0o002) !== 0 ? 'others' : ''].filter(Boolean);
  if (by.length > 0) return `writable by ${by.join(' and ')} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`;
  return undefined;
}

/** One refused hook or directory: where, and why. */
export interface HookProblem {
  path: string;
  reason: string;
}

/**
 * The hooks that would run now, and the files refused (untrusted directory or hook). A missing
 * directory has no hooks and no problems; an unreadable one is a problem.
 */
export async function auditHooks(dir: string, ownUid?: number): Promise<{ hooks: string[]; problems: HookProblem[] }> {
  let dst: Stats;
  try {
    dst = await stat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { hooks: [], problems: [] };
    return { hooks: [], problems: [{ path: dir, reason: `cannot read it: ${errorMessage(err)}` }] };
  }
  if (!dst.isDirectory()) return { hooks: [], problems: [{ path: dir, reason: 'not a directory' }] };
  const bad = untrusted(dst, ownUid);
  if (bad) return { hooks: [], problems: [{ path: dir, reason: `${bad}: no hook in it runs` }] };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    return { hooks: [], problems: [{ path: dir, reason: `cannot read it: ${errorMessage(err)}` }] };
  }
  const hooks: string[] = [];
  const problems: HookProblem[] = [];
  for (const n of names.sort()) {
    if (n.startsWith('.') || n.endsWith('~')) continue;
    const p = join(dir, n);
    try {
      // lstat: a symlink is judged by itself and its target (both must be trusted).
      const l = await lstat(p);
      const st = l.isSymbolicLink() ? await stat(p) : l;
      if (!st.isFile()) continue;
      await access(p, constants.X_OK);
      const why = (l.isSymbolicLink() ? untrusted(l, ownUid) : undefined) ?? untrusted(st, ownUid);
      if (why) problems.push({ path: p, reason: `${why}: not run` });
      else hooks.push(p);
    } catch {
      /* not an executable file: not a hook */
    }
  }
  return { hooks, problems };
}

/** What the health manager needs from a hook runner (tests inject a recording one). */
export interface HookSink {
  run(ev: HookEvent): Promise<void>;
  idle(): Promise<void>;
}

export class HookRunner implements HookSink {
  /** Per link: the change waiting to run (newest only) and the promise of the run loop. */
  private readonly links = new Map<string, { pending: HookEvent | undefined; done: Promise<void> }>();
  /** Refusals already logged (path and reason), so a refused hook is one log line, not one per change. */
  private readonly refusedLogged = new Set<string>();
  private skipped = 0;

  constructor(
    private readonly opts: {
      dir: string;
      /** Milliseconds a hook may run. */
      timeoutMs: number;
      logger: Logger;
      env?: NodeJS.ProcessEnv;
      /** Called after each hook, for tests and metrics. */
      onOutcome?: (ev: HookEvent, o: HookOutcome) => void;
    },
  ) {}

  /**
   * Run the hooks for one change; resolves when the hooks for this change, or for a newer change
   * of the same link that replaced it, have run (never rejects).
   */
  run(ev: HookEvent): Promise<void> {
    const l = this.links.get(ev.link);
    if (l) {
      if (l.pending) this.skipped++;
      l.pending = ev;
      return l.done;
    }
    const entry: { pending: HookEvent | undefined; done: Promise<void> } = { pending: ev, done: Promise.resolve() };
    this.links.set(ev.link, entry);
    entry.done = this.drain(ev.link, entry);
    return entry.done;
  }

  /** Changes replaced by a newer one of the same link before their hooks ran. */
  get skippedChanges(): number {
    return this.skipped;
  }

  /** Resolves when every queued hook has finished. */
  async idle(): Promise<void> {
    while (this.links.size > 0) await Promise.all([...this.links.values()].map((l) => l.done));
  }

  /** Log the refused hooks now (the daemon's start and reload), so a bad mode shows before a change. */
  async audit(): Promise<HookProblem[]> {
    const { problems } = await auditHooks(this.opts.dir);
    this.logRefusals(problems);
    return problems;
  }

  private async drain(link: string, entry: { pending: HookEvent | undefined }): Promise<void> {
    // Let the caller's synchronous burst land first: a flap of 100 changes in one tick is one run.
    await Promise.resolve();
    try {
      while (entry.pending) {
        const ev = entry.pending;
        entry.pending = undefined;
        await this.runAll(ev).catch((err: unknown) => {
          this.opts.logger.error({ op: 'hook', link: ev.link, err: errorMessage(err) }, 'hook runner failed');
        });
      }
    } finally {
      this.links.delete(link);
    }
  }

  private logRefusals(problems: readonly HookProblem[]): void {
    for (const p of problems) {
      const key = `${p.path}\0${p.reason}`;
      if (this.refusedLogged.has(key)) continue;
      if (this.refusedLogged.size > 1000) this.refusedLogged.clear();
      this.refusedLogged.add(key);
      this.opts.logger.error({ op: 'hook', path: p.path, reason: p.reason }, `hook refused: ${p.path}: ${p.reason}`);
    }
  }

  private async runAll(ev: HookEvent): Promise<void> {
    const { hooks, problems } = await auditHooks(this.opts.dir);
    this.logRefusals(problems);
    for (const h of hooks) {
      const o = await this.runOne(h, ev);
      const log = { op: 'hook', link: ev.link, state: ev.state, prev: ev.prev, hook: h, code: o.code, signal: o.signal, durationMs: o.durationMs };
      if (o.error !== undefined) this.opts.logger.warn({ ...log, err: o.error }, o.timedOut ? `hook timed out after ${this.opts.timeoutMs}ms` : 'hook failed');
      else this.opts.logger.debug(log, 'hook ran');
      this.opts.onOutcome?.(ev, o);
    }
  }

  private runOne(path: string, ev: HookEvent): Promise<HookOutcome> {
    const started = Date.now();
    const env: NodeJS.ProcessEnv = {
      ...(this.opts.env ?? process.env),
      WANBRAID_LINK: ev.link,
      WANBRAID_DEVICE: ev.device,
      WANBRAID_STATE: ev.state,
      WANBRAID_PREV: ev.prev,
      WANBRAID_REASON: ev.reason,
      WANBRAID_REASON_TEXT: ev.reasonText,
      WANBRAID_SINCE: new Date(ev.since).toISOString(),
    };
    return new Promise((resolve) => {
      let stderr = '';
      let timedOut = false;
      let killTimer: NodeJS.Timeout | undefined;
      const child = spawn(path, [], { env, cwd: this.opts.dir, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      child.stderr.on('data', (b: Buffer) => {
        if (stderr.length < OUTPUT_LIMIT) stderr += b.toString('utf8').slice(0, OUTPUT_LIMIT - stderr.length);
      });
      const signalGroup = (sig: NodeJS.Signals) => {
        if (child.pid === undefined) return;
        try {
          process.kill(-child.pid, sig);
        } catch {
          /* the group is gone */
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        signalGroup('SIGTERM');
        killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
      }, this.opts.timeoutMs);
      const finish = (o: Omit<HookOutcome, 'hook' | 'durationMs' | 'timedOut'>) => {
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        resolve({ hook: path, durationMs: Date.now() - started, timedOut, ...o });
      };
      child.on('error', (err) => finish({ code: undefined, signal: undefined, error: `cannot run: ${errorMessage(err)}` }));
      child.on('exit', (code, signal) => {
        // The hook is done; anything it left running in its group goes with it.
        signalGroup('SIGKILL');
        const detail = stderr.trim().split('\n').slice(0, 5).join(' | ');
        if (timedOut) finish({ code: code ?? undefined, signal: signal ?? undefined, error: `killed after ${this.opts.timeoutMs}ms${detail ? `: ${detail}` : ''}` });
        else if (code !== 0) finish({ code: code ?? undefined, signal: signal ?? undefined, error: `${signal ? `signal ${signal}` : `exit ${code}`}${detail ? `: ${detail}` : ''}` });
        else finish({ code: 0, signal: undefined, error: undefined });
      });
    });
  }
}
