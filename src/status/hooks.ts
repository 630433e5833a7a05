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
 * plus the daemon's own environment. Hooks of one link run one after another, in the order the
 * changes happened (a queue per link); different links do not wait for each other. The directory is
 * read at each change, so adding a hook needs no reload. A hook runs without a shell, in its own
 * process group; after `timeoutMs` that group (the hook and whatever it started) gets SIGTERM, and
 * SIGKILL a second later. A hook that fails, hangs or cannot start is logged with its exit code and
 * the start of its stderr; it never stops the daemon or the next hook.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
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

/** What the health manager needs from a hook runner (tests inject a recording one). */
export interface HookSink {
  run(ev: HookEvent): Promise<void>;
  idle(): Promise<void>;
}

export class HookRunner implements HookSink {
  private readonly queues = new Map<string, Promise<void>>();

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

  /** Queue the hooks for one change; resolves when they have run (never rejects). */
  run(ev: HookEvent): Promise<void> {
    const prev = this.queues.get(ev.link) ?? Promise.resolve();
    const next = prev.then(() => this.runAll(ev)).catch((err: unknown) => {
      this.opts.logger.error({ op: 'hook', link: ev.link, err: errorMessage(err) }, 'hook runner failed');
    });
    this.queues.set(ev.link, next);
    void next.then(() => {
      if (this.queues.get(ev.link) === next) this.queues.delete(ev.link);
    });
    return next;
  }

  /** Resolves when every queued hook has finished. */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  private async runAll(ev: HookEvent): Promise<void> {
    const hooks = await this.list();
    for (const h of hooks) {
      const o = await this.runOne(h, ev);
      const log = { op: 'hook', link: ev.link, state: ev.state, prev: ev.prev, hook: h, code: o.code, signal: o.signal, durationMs: o.durationMs };
      if (o.error !== undefined) this.opts.logger.warn({ ...log, err: o.error }, o.timedOut ? `hook timed out after ${this.opts.timeoutMs}ms` : 'hook failed');
      else this.opts.logger.debug(log, 'hook ran');
      this.opts.onOutcome?.(ev, o);
    }
  }

  private async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.opts.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') this.opts.logger.warn({ op: 'hook', dir: this.opts.dir, err: errorMessage(err) }, 'cannot read the hooks directory');
      return [];
    }
    const out: string[] = [];
    for (const n of names.sort()) {
      if (n.startsWith('.') || n.endsWith('~')) continue;
      const p = join(this.opts.dir, n);
      try {
        if (!(await stat(p)).isFile()) continue;
        await access(p, constants.X_OK);
        out.push(p);
      } catch {
        /* not an executable file: not a hook */
      }
    }
    return out;
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
        if (timedOut) signalGroup('SIGKILL');
        const detail = stderr.trim().split('\n').slice(0, 5).join(' | ');
        if (timedOut) finish({ code: code ?? undefined, signal: signal ?? undefined, error: `killed after ${this.opts.timeoutMs}ms${detail ? `: ${detail}` : ''}` });
        else if (code !== 0) finish({ code: code ?? undefined, signal: signal ?? undefined, error: `${signal ? `signal ${signal}` : `exit ${code}`}${detail ? `: ${detail}` : ''}` });
        else finish({ code: 0, signal: undefined, error: undefined });
      });
    });
  }
}
