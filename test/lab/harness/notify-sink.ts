/**
 * A stand-in for systemd's notification socket: a unix datagram socket (python3, since Node has
 * none) that reports every datagram it receives. Used to check READY=1 / WATCHDOG=1 / STOPPING=1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = `
import socket, sys, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({"msg": data.decode()}), flush=True)
`;

export class NotifySink {
  readonly messages: string[] = [];
  private waiters: { pred: (m: string) => boolean; resolve: () => void }[] = [];
  private constructor(
    readonly path: string,
    private readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(): Promise<NotifySink> {
    const dir = mkdtempSync(join(tmpdir(), 'wanbraid-notify-'));
    const path = join(dir, 'notify.sock');
    const child = spawn('python3', ['-u', '-c', SCRIPT, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const sink = new NotifySink(path, dir, child);
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.once('exit', (c) => reject(new Error(`notify sink exited ${c}`)));
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const o = JSON.parse(buf.slice(0, nl)) as { bound?: boolean; msg?: string };
          buf = buf.slice(nl + 1);
          if (o.bound) resolve();
          if (o.msg !== undefined) {
            sink.messages.push(o.msg);
            sink.waiters = sink.waiters.filter((w) => (w.pred(o.msg!) ? (w.resolve(), false) : true));
          }
        }
      });
    });
    return sink;
  }

  waitFor(pred: (m: string) => boolean, timeoutMs = 15_000): Promise<void> {
    if (this.messages.some(pred)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching notification within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`)), timeoutMs);
      this.waiters.push({ pred, resolve: () => (clearTimeout(t), resolve()) });
    });
  }

  stop(): void {
    if (this.child.pid && this.child.exitCode === null) this.child.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
