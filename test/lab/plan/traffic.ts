/**
 * Traffic for the balancing tests and benchmarks, run inside the lab's client namespace:
 * `ip netns exec NS node dist/test/lab/plan/traffic.js MODE JSON-ARGS`. Prints JSON lines.
 *
 * - `ip {host, port, count, concurrency, source?, timeoutMs?}`: `count` HTTP GETs of `/ip`, each
 *   on a new TCP connection; prints `{"done":true, "seen":{ADDR: n}, "failures":[...]}` — the
 *   address the server saw tells which link (its masquerade address) a new flow took.
 * - `hold {host, port, count, intervalMs, source?}`: opens `count` connections to an echo service
 *   that never closes, sends 8 bytes on each every `intervalMs` and checks the echo. Prints
 *   `{"opened":[{"id","localPort"}...]}` when all are up, then one line per connection that
 *   breaks: `{"broken":{"id","at","error"}}` (`at`: epoch milliseconds). Reading `stats` on stdin
 *   prints `{"stats":{"alive","broken","echoes"}}`; closing stdin ends it.
 * - `probe {host, port, intervalMs, durationMs, timeoutMs}`: a new connection every `intervalMs`
 *   for `durationMs`; prints `{"done":true,"results":[{"at","ok","ms","error"?}]}`.
 * - `greet {host, port, timeoutMs}`: connects, prints `{"done":true,"greeting":…}` (the first line
 *   the peer sends) — to see who answered a redirected connection.
 * - `listen {port, echo?}`: a TCP listener (dual stack) that greets each connection with
 *   `hello from listener` and closes (with `echo`: echoes what it reads and never closes first);
 *   prints `{"listening":true}`.
 */
import { connect, createServer, type Socket } from 'node:net';
import { request } from 'node:http';
import { createInterface } from 'node:readline';

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

function getIp(host: string, port: number, source: string | undefined, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/ip', agent: false, localAddress: source, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function ipMode(a: { host: string; port: number; count: number; concurrency: number; source?: string; timeoutMs?: number }): Promise<void> {
  const seen: Record<string, number> = {};
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < a.count) {
      next++;
      try {
        const ip = await getIp(a.host, a.port, a.source, a.timeoutMs ?? 5000);
        seen[ip] = (seen[ip] ?? 0) + 1;
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, a.concurrency) }, worker));
  out({ done: true, seen, failures });
}

function holdMode(a: { host: string; port: number; count: number; intervalMs: number; source?: string }): void {
  interface Conn {
    id: number;
    sock: Socket;
    pending: number;
    broken: boolean;
    echoes: number;
  }
  const conns: Conn[] = [];
  let opened = 0;
  const brk = (c: Conn, error: string) => {
    if (c.broken) return;
    c.broken = true;
    c.sock.destroy();
    out({ broken: { id: c.id, at: Date.now(), error } });
  };
  for (let id = 0; id < a.count; id++) {
    const sock = connect({ host: a.host, port: a.port, localAddress: a.source });
    const c: Conn = { id, sock, pending: 0, broken: false, echoes: 0 };
    conns.push(c);
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      c.pending -= d.length;
      c.echoes++;
    });
    sock.on('error', (e: NodeJS.ErrnoException) => brk(c, e.code ?? e.message));
    sock.on('close', () => brk(c, 'closed'));
    sock.once('connect', () => {
      if (++opened === a.count) out({ opened: conns.map((x) => ({ id: x.id, localPort: x.sock.localPort })) });
    });
  }
  const timer = setInterval(() => {
    for (const c of conns) {
      if (c.broken || c.sock.connecting) continue;
      c.sock.write('wanbraid');
      c.pending += 8;
    }
  }, a.intervalMs);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    if (l.trim() === 'stats') out({ stats: { alive: conns.filter((c) => !c.broken).length, broken: conns.filter((c) => c.broken).map((c) => c.id), echoes: conns.map((c) => c.echoes) } });
  });
  rl.on('close', () => {
    clearInterval(timer);
    for (const c of conns) c.sock.destroy();
    process.exit(0);
  });
}

async function probeMode(a: { host: string; port: number; intervalMs: number; durationMs: number; timeoutMs: number }): Promise<void> {
  const results: { at: number; ok: boolean; ms: number; error?: string }[] = [];
  const end = Date.now() + a.durationMs;
  const one = (at: number) =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const s = connect({ host: a.host, port: a.port });
      const done = (ok: boolean, error?: string) => {
        s.destroy();
        results.push({ at, ok, ms: performance.now() - t0, ...(error ? { error } : {}) });
        resolve();
      };
      s.setTimeout(a.timeoutMs, () => done(false, 'timeout'));
      s.once('connect', () => done(true));
      s.once('error', (e: NodeJS.ErrnoException) => done(false, e.code ?? e.message));
    });
  const running: Promise<void>[] = [];
  while (Date.now() < end) {
    running.push(one(Date.now()));
    await new Promise((r) => setTimeout(r, a.intervalMs));
  }
  await Promise.all(running);
  out({ done: true, results: results.sort((x, y) => x.at - y.at) });
}

function greetMode(a: { host: string; port: number; timeoutMs?: number }): void {
  const s = connect({ host: a.host, port: a.port });
  let buf = '';
  let connected = false;
  let finished = false;
  s.once('connect', () => (connected = true));
  const finish = (o: Record<string, unknown>) => {
    if (finished) return;
    finished = true;
    s.destroy();
    out({ done: true, connected, ...o });
  };
  s.setTimeout(a.timeoutMs ?? 3000, () => finish({ error: 'timeout' }));
  s.on('data', (d) => {
    buf += d.toString();
    if (buf.includes('\n')) finish({ greeting: buf.split('\n')[0] });
  });
  s.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message }));
  s.on('end', () => finish({ greeting: buf }));
}

function listenMode(a: { port: number; echo?: boolean }): void {
  const srv = createServer((c) => {
    c.on('error', () => undefined);
    if (a.echo) c.pipe(c);
    else c.end('hello from listener\n');
  });
  srv.listen({ port: a.port, host: '::' }, () => out({ listening: true }));
}

const [mode, json] = process.argv.slice(2);
const args = JSON.parse(json ?? '{}') as never;
if (mode === 'ip') void ipMode(args);
else if (mode === 'hold') holdMode(args);
else if (mode === 'probe') void probeMode(args);
else if (mode === 'greet') greetMode(args);
else if (mode === 'listen') listenMode(args);
else {
  process.stderr.write('usage: traffic.js ip|hold|probe|greet|listen JSON\n');
  process.exit(2);
}
