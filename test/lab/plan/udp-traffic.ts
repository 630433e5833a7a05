/**
 * UDP traffic for the lab tests, run inside a lab namespace:
 * `ip netns exec NS node dist/test/lab/plan/udp-traffic.js MODE JSON-ARGS`. Prints JSON lines.
 * Every client socket is connected (one peer), so it is one conntrack flow, and an ICMP port
 * unreachable for it surfaces as ECONNREFUSED.
 *
 * - `serve {hosts, port}`: a UDP "whoami": answers each datagram with `<its first 64 bytes>
 *   <sender's address>`, from the address it was sent to (one socket per address of `hosts`, so
 *   the answer's source is the one the client connected to). Prints `{"listening":true}`.
 * - `census {host, port, count, concurrency, timeoutMs?}`: `count` new flows (a new socket each,
 *   all open to the end so no two share a port), one datagram each (sent again every 500 ms until
 *   answered or `timeoutMs`); prints
 *   `{"done":true,"seen":{ADDR:n},"failures":[...]}` — the address the server saw is the link's.
 * - `hold {host, port, count, intervalMs}`: `count` long-lived flows, each sending its sequence
 *   number every `intervalMs`. Prints `{"opened":[{"id","localPort"}...]}` once every flow has an
 *   answer (or `{"error":…}` after 15 s). Reading `stats` on stdin prints `{"stats":[{"id",
 *   "localPort","sent","replies","addrs":[{"addr","firstSeq"}],"errors"}]}` — the addresses the
 *   server saw, in order, with the lowest sequence number answered from each; closing stdin ends it.
 * - `probe {host, port, timeoutMs}`: one datagram; prints `{"done":true,"ok":true,"reply":…}`, or
 *   `{"done":true,"ok":false,"error":"ECONNREFUSED"|"timeout"|…,"ms":…}`.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createInterface } from 'node:readline';

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const udpType = (host: string) => (host.includes(':') ? 'udp6' : 'udp4');
/** The sender's address, the last word of an answer. */
const addrOf = (reply: Buffer) => reply.toString().split(' ').pop()!;

function connected(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket(udpType(host));
    s.once('error', reject);
    s.connect(port, host, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

function serveMode(a: { hosts: string[]; port: number }): void {
  let ready = 0;
  for (const host of a.hosts) {
    const s = createSocket(udpType(host));
    s.on('error', (e) => {
      process.stderr.write(`udp serve ${host}:${a.port}: ${e.message}\n`);
      process.exit(1);
    });
    s.on('message', (msg, rinfo) => s.send(`${msg.subarray(0, 64).toString()} ${rinfo.address}`, rinfo.port, rinfo.address));
    s.bind({ address: host, port: a.port }, () => {
      if (++ready === a.hosts.length) out({ listening: true });
    });
  }
}

async function censusMode(a: { host: string; port: number; count: number; concurrency: number; timeoutMs?: number }): Promise<void> {
  const seen: Record<string, number> = {};
  const failures: string[] = [];
  // Every socket stays open until the end: a closed one's port could be given to a later socket,
  // whose datagrams would then belong to the earlier flow's conntrack entry (the same 5-tuple).
  const open: Socket[] = [];
  const one = async (): Promise<string> => {
    const s = await connected(a.host, a.port);
    open.push(s);
    return await new Promise<string>((resolve, reject) => {
      const send = () => s.send('census');
      const again = setInterval(send, 500);
      const give = setTimeout(() => reject(new Error('timeout')), a.timeoutMs ?? 5000);
      const done = () => {
        clearInterval(again);
        clearTimeout(give);
      };
      s.once('message', (m) => {
        done();
        resolve(addrOf(m));
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        done();
        reject(new Error(e.code ?? e.message));
      });
      send();
    });
  };
  let next = 0;
  const worker = async () => {
    while (next < a.count) {
      next++;
      try {
        const ip = await one();
        seen[ip] = (seen[ip] ?? 0) + 1;
      } catch (err) {
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, a.concurrency) }, worker));
  for (const s of open) s.close();
  out({ done: true, seen, failures });
}

async function holdMode(a: { host: string; port: number; count: number; intervalMs: number }): Promise<void> {
  interface Flow {
    id: number;
    sock: Socket;
    localPort: number;
    sent: number;
    replies: number;
    addrs: { addr: string; firstSeq: number }[];
    errors: string[];
  }
  const flows: Flow[] = [];
  for (let id = 0; id < a.count; id++) {
    const sock = await connected(a.host, a.port);
    const f: Flow = { id, sock, localPort: sock.address().port, sent: 0, replies: 0, addrs: [], errors: [] };
    flows.push(f);
    sock.on('message', (m) => {
      f.replies++;
      const [seqText] = m.toString().split(' ');
      const seq = Number(seqText);
      const addr = addrOf(m);
      const known = f.addrs.find((x) => x.addr === addr);
      if (!known) f.addrs.push({ addr, firstSeq: seq });
      else if (seq < known.firstSeq) known.firstSeq = seq;
    });
    // Kept (bounded), not fatal: the test decides what an error means.
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (f.errors.length < 10) f.errors.push(e.code ?? e.message);
    });
  }
  const timer = setInterval(() => {
    for (const f of flows) f.sock.send(String(f.sent++));
  }, a.intervalMs);
  const deadline = Date.now() + 15_000;
  const opened = setInterval(() => {
    if (flows.every((f) => f.replies > 0)) {
      clearInterval(opened);
      out({ opened: flows.map((f) => ({ id: f.id, localPort: f.localPort })) });
    } else if (Date.now() > deadline) {
      clearInterval(opened);
      out({ error: `flows without an answer after 15 s: ${flows.filter((f) => f.replies === 0).map((f) => `${f.id} ${f.errors.join(',')}`).join('; ')}` });
    }
  }, 20);
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    if (l.trim() === 'stats') out({ stats: flows.map(({ sock: _s, ...f }) => f) });
  });
  rl.on('close', () => {
    clearInterval(timer);
    clearInterval(opened);
    for (const f of flows) f.sock.close();
    process.exit(0);
  });
}

async function probeMode(a: { host: string; port: number; timeoutMs: number }): Promise<void> {
  const s = await connected(a.host, a.port);
  const t0 = performance.now();
  const r = await new Promise<Record<string, unknown>>((resolve) => {
    const t = setTimeout(() => resolve({ ok: false, error: 'timeout' }), a.timeoutMs);
    s.once('message', (m) => {
      clearTimeout(t);
      resolve({ ok: true, reply: m.toString() });
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve({ ok: false, error: e.code ?? e.message });
    });
    s.send('probe');
  });
  s.close();
  out({ done: true, ...r, ms: performance.now() - t0 });
}

const [mode, json] = process.argv.slice(2);
const args = JSON.parse(json ?? '{}') as never;
if (mode === 'serve') serveMode(args);
else if (mode === 'census') void censusMode(args);
else if (mode === 'hold') void holdMode(args);
else if (mode === 'probe') void probeMode(args);
else {
  process.stderr.write('usage: udp-traffic.js serve|census|hold|probe JSON\n');
  process.exit(2);
}
