/**
 * Runs the real daemon (`bin/wanbraid run`) inside a namespace for lab tests: writes its config to
 * a private temp dir (socket included), collects its JSON log lines, and offers event-driven waits
 * on them. The child is ended by PID (SIGTERM, then SIGKILL after a grace period) in `stop`/`kill`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NamespaceSet } from '../../../src/lab/netns.js';
import { request, type Reply } from '../../../src/status/client.js';
import type { Request } from '../../../src/status/protocol.js';
import type { StatusObject } from '../../../src/status/types.js';

/** The status object of a successful status reply; throws with the error otherwise. */
export function statusOf(r: Reply): StatusObject {
  if (!r.ok) throw new Error(`status request failed: ${r.error.code}: ${r.error.message}`);
  return r.status as StatusObject;
}

const BIN = new URL('../../../../bin/wanbraid', import.meta.url).pathname;

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export class DaemonProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  private waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  private exitCode: number | null | undefined;
  private exited: Promise<number | null>;

  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly configPath: string,
    readonly socketPath: string,
  ) {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let parsed: LogLine;
        try {
          parsed = JSON.parse(line) as LogLine;
        } catch {
          parsed = { msg: line, level: 'raw' };
        }
        this.logs.push(parsed);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(parsed)) return true;
          w.resolve(parsed);
          return false;
        });
      }
    });
    child.stderr!.on('data', (d: Buffer) => this.stderr.push(d.toString()));
    // 'close', not 'exit': the last log lines may still be in the pipes when the process exits.
    this.exited = new Promise((resolve) => child.once('close', (code) => resolve((this.exitCode = code))));
  }

  /**
   * Start the daemon in `ns` with `config` (YAML text; `@SOCKET@` is replaced by a private socket path).
   * Resolves once it logged "ready", rejects if it exits first.
   */
  static async start(ns: string, config: string, opts: { waitReady?: boolean; env?: NodeJS.ProcessEnv; dir?: string } = {}): Promise<DaemonProcess> {
    // `dir`: the private directory of an earlier daemon (a restart after a crash finds its runtime files).
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'wanbraid-daemon-'));
    const socketPath = join(dir, 'run', 'wanbraid.sock');
    const configPath = join(dir, 'wanbraid.yaml');
    writeFileSync(configPath, config.replaceAll('@SOCKET@', socketPath));
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, 'run', '-c', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WANBRAID_LOG_LEVEL: 'debug', ...opts.env },
    });
    const d = new DaemonProcess(child, dir, configPath, socketPath);
    if (opts.waitReady !== false) {
      const ready = d.waitForLog((l) => l.msg === 'ready', 20_000);
      const exit = d.exited.then((code) => {
        throw new Error(`daemon exited (${code}) before ready: ${d.stderr.join('')} ${JSON.stringify(d.logs.slice(-5))}`);
      });
      await Promise.race([ready, exit]);
    }
    return d;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first log line (already seen or future) matching `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 15_000, fromIndex = 0): Promise<LogLine> {
    const seen = this.logs.slice(fromIndex).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching daemon log line within ${timeoutMs} ms; last: ${JSON.stringify(this.logs.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
    });
  }

  request(req: Request | Record<string, unknown>): Promise<Reply> {
    return request(this.socketPath, req);
  }

  writeConfig(text: string): void {
    writeFileSync(this.configPath, text.replaceAll('@SOCKET@', this.socketPath));
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exitCode === undefined) process.kill(this.pid, sig);
  }

  /** SIGTERM and wait for the exit code (SIGKILL after `graceMs`). */
  async stop(graceMs = 15_000): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  /** Simulate a crash: SIGKILL, no cleanup by the daemon. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  get done(): Promise<number | null> {
    return this.exited;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** In a test's `finally`: stop every daemon that was started (in order) and remove their files. */
export async function stopAndClean(...daemons: (DaemonProcess | undefined)[]): Promise<void> {
  for (const d of daemons) await d?.stop();
  for (const d of daemons) d?.cleanup();
}

/**
 * A namespace `router` holding the example config's interfaces (lan0, wan1..3) with no lab around
 * them: for daemon tests about starting and stopping, not traffic. This kernel has no dummy
 * driver, so they are veth pairs whose peers stay in the same namespace.
 */
export async function exampleRouterNamespace(): Promise<NamespaceSet> {
  const set = await NamespaceSet.create(['router']);
  await set.ip('router', ['lan0', 'wan1', 'wan2', 'wan3'].map((n) => `link add ${n} type veth peer name ${n}p`));
  return set;
}
