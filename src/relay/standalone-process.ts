/**
 * Driving a standalone relay process (standalone.ts) from a test or a benchmark: start it with a
 * spawn function (so it can run inside a lab namespace), wait until it is ready, ask for status,
 * change link availability, stop it. Requests are answered in order, one line each. The child's
 * stderr (pino JSON lines) is kept for assertions.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WanbraidError } from '../errors.js';
import type { LinkAddresses } from './links.js';
import type { RelayStatus } from './status.js';

export const STANDALONE_SCRIPT = fileURLToPath(new URL('./standalone.js', import.meta.url));

export interface StandaloneStatus {
  status: RelayStatus;
  /** process.cpuUsage() of the relay process (µs). */
  cpu: { user: number; system: number };
  /** Resident set size (bytes). */
  rss: number;
}

export class RelayProcess {
  /** Parsed log lines from the child's stderr. */
  readonly logs: Record<string, unknown>[] = [];
  private waiting: ((line: string) => void)[] = [];
  private exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    createInterface({ input: child.stdout! }).on('line', (line) => this.waiting.shift()?.(line));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        this.logs.push({ msg: line });
      }
    });
  }

  /**
   * Start one: `spawn(argv)` must run argv (e.g. `lab.spawn('exit', argv, { stdio: 'pipe' })`) with
   * stdin, stdout and stderr piped.
   */
  static async start(spawn: (argv: string[]) => ChildProcess, configFile: string, links?: Record<string, LinkAddresses>, timeoutMs = 10_000): Promise<RelayProcess> {
    const argv = [process.execPath, STANDALONE_SCRIPT, configFile];
    if (links) argv.push(JSON.stringify(links));
    const p = new RelayProcess(spawn(argv));
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      p.nextLine(),
      p.exited.then((code) => `{"event":"error","message":"exited with ${code}"}`),
      new Promise<string>((r) => (timer = setTimeout(() => r('{"event":"error","message":"not ready in time"}'), timeoutMs))),
    ]);
    clearTimeout(timer);
    const msg = JSON.parse(first) as { event: string; message?: string };
    if (msg.event !== 'ready') {
      p.child.kill('SIGKILL');
      const logs = p.logs.map((l) => String(l.msg)).join(' | ');
      throw new WanbraidError('WB_LAB', `relay ${configFile} did not start: ${msg.message ?? first}${logs ? ` (${logs})` : ''}`);
    }
    return p;
  }

  private nextLine(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async request<T>(req: object): Promise<T> {
    const line = this.nextLine();
    this.child.stdin!.write(JSON.stringify(req) + '\n');
    const reply = JSON.parse(await line) as { ok: boolean; error?: string } & T;
    if (!reply.ok) throw new WanbraidError('WB_LAB', `relay request ${JSON.stringify(req)} failed: ${reply.error}`);
    return reply;
  }

  status(): Promise<StandaloneStatus> {
    return this.request<StandaloneStatus>({ cmd: 'status' });
  }

  async setLinks(links: Record<string, LinkAddresses>): Promise<void> {
    await this.request({ cmd: 'links', links });
  }

  /** Whether a log line with this message was seen. */
  logged(msg: string | RegExp): boolean {
    return this.logs.some((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));
  }

  /** SIGTERM, then wait for the exit (SIGKILL after 5 s). */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      const code = await this.exited;
      clearTimeout(t);
      return code;
    }
    return this.exited;
  }
}
