/**
 * A small client for the lab services, run inside a lab namespace (Node cannot enter one):
 * `ip netns exec NS node dist/src/lab/client.js COMMAND ... [--source ADDR] [--timeout MS]`.
 * It prints one JSON object on stdout and exits 0 when the service answered as it should, 1 when
 * it did not (the JSON says why), 2 on bad arguments.
 *
 *   dns SERVER NAME [TYPE]        one UDP query; prints rcode and answers
 *   echo tcp|udp HOST PORT TEXT   sends TEXT, expects it back
 *   hold HOST PORT COUNT [MS]     opens COUNT connections to the hold service, checks each echoes,
 *                                 keeps them MS milliseconds, checks each still echoes (counting
 *                                 the ones that died), closes; `connections` gives each one's local
 *                                 port and outcome at both checks (echoed, timeout, ECONNRESET, ...),
 *                                 and once all are open and checked a line {held, echoed, localPorts}
 *                                 goes to stderr, for a caller that acts while they are held
 *   sink HOST PORT BYTES          sends BYTES random bytes, checks the service's byte count and sha256
 *   raw tcp|udp HOST PORT HEX     sends the bytes, prints what comes back within the timeout (ok once sent)
 *
 * `--source` binds the local address (with a per-source route this picks the link).
 */
import { createSocket } from 'node:dgram';
import { connect, isIPv6, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { decodeMessage, encodeQuery, TYPE } from './dns.js';

interface Opts {
  source: string | undefined;
  timeoutMs: number;
}

type Result = { ok: boolean } & Record<string, unknown>;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

async function dns(server: string, name: string, typeName: string, o: Opts): Promise<Result> {
  const type = (TYPE as Record<string, number>)[typeName.toUpperCase()];
  if (type === undefined) throw new UsageError(`unknown record type "${typeName}"`);
  const sock = createSocket(isIPv6(server) ? 'udp6' : 'udp4');
  try {
    const id = Math.floor(Math.random() * 0x10000);
    const reply = new Promise<Buffer>((resolve, reject) => {
      sock.on('message', (m) => resolve(m));
      sock.on('error', reject);
    });
    await new Promise<void>((resolve) => sock.bind({ address: o.source }, resolve));
    sock.send(encodeQuery(id, name, type), 53, server);
    const msg = decodeMessage(await withTimeout(reply, o.timeoutMs, 'dns'));
    const ok = msg.header.id === id && msg.header.qr && msg.header.rcode === 0;
    return { ok, rcode: msg.header.rcode, answers: msg.answers.map((a) => ({ name: a.name, type: a.type, data: a.data, ttl: a.ttl })) };
  } finally {
    sock.close();
  }
}

function tcpConnect(host: string, port: number, o: Opts): Promise<Socket> {
  return withTimeout(
    new Promise<Socket>((resolve, reject) => {
      const s = connect({ host, port, localAddress: o.source });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    }),
    o.timeoutMs,
    `connect ${host} port ${port}`,
  );
}

/** Write `data` and read until as many bytes came back. */
function roundTrip(s: Socket, data: Buffer, ms: number): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const got: Buffer[] = [];
      let n = 0;
      const onData = (b: Buffer) => {
        got.push(b);
        n += b.length;
        if (n >= data.length) {
          s.off('data', onData);
          s.off('error', reject);
          resolve(Buffer.concat(got));
        }
      };
      s.on('data', onData);
      s.once('error', reject);
      s.write(data);
    }),
    ms,
    'echo',
  );
}

async function echo(proto: string, host: string, port: number, text: string, o: Opts): Promise<Result> {
  const data = Buffer.from(text);
  if (proto === 'tcp') {
    const s = await tcpConnect(host, port, o);
    try {
      const back = await roundTrip(s, data, o.timeoutMs);
      return { ok: back.equals(data), reply: back.toString() };
    } finally {
      s.destroy();
    }
  }
  if (proto !== 'udp') throw new UsageError(`echo: "${proto}" is not tcp or udp`);
  const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  try {
    const reply = new Promise<Buffer>((resolve, reject) => {
      sock.on('message', (m) => resolve(m));
      sock.on('error', reject);
    });
    await new Promise<void>((resolve) => sock.bind({ address: o.source }, resolve));
    sock.send(data, port, host);
    const back = await withTimeout(reply, o.timeoutMs, 'udp echo');
    return { ok: back.equals(data), reply: back.toString() };
  } finally {
    sock.close();
  }
}

/** What became of one held connection at a check: 'echoed', 'wrong-echo', 'timeout', 'closed' or the socket's error code (e.g. 'ECONNRESET'). */
export type HoldOutcome = string;

async function hold(host: string, port: number, count: number, keepMs: number, o: Opts): Promise<Result> {
  const sockets: Socket[] = [];
  // The first error each connection saw (a reset between checks arrives here, not at the check).
  const errors: (string | undefined)[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = await tcpConnect(host, port, o);
      errors.push(undefined);
      s.on('error', (e: NodeJS.ErrnoException) => (errors[i] ??= e.code ?? e.message));
      sockets.push(s);
    }
    const check = async (round: string): Promise<HoldOutcome[]> => {
      // A connection that died (reset, or silent until the timeout) counts as not echoing.
      return Promise.all(
        sockets.map(async (s, i): Promise<HoldOutcome> => {
          if (s.destroyed) return errors[i] ?? 'closed';
          try {
            const back = await roundTrip(s, Buffer.from(`${round} ${i}\n`), o.timeoutMs);
            return back.toString() === `${round} ${i}\n` ? 'echoed' : 'wrong-echo';
          } catch (err) {
            return errors[i] ?? (err instanceof Error && /no answer within/.test(err.message) ? 'timeout' : String((err as NodeJS.ErrnoException).code ?? err));
          }
        }),
      );
    };
    const first = await check('open');
    const localPorts = sockets.map((s) => s.localPort ?? 0);
    // Progress for a caller that acts while the connections are held (the lab demo): one JSON line on stderr.
    process.stderr.write(JSON.stringify({ held: sockets.length, echoed: first.filter((x) => x === 'echoed').length, localPorts }) + '\n');
    await new Promise((r) => setTimeout(r, keepMs));
    const later = await check('later');
    const n = (xs: HoldOutcome[]) => xs.filter((x) => x === 'echoed').length;
    return {
      ok: n(first) === count && n(later) === count,
      opened: sockets.length,
      echoed: n(first),
      stillEchoing: n(later),
      connections: sockets.map((_, i) => ({ localPort: localPorts[i], open: first[i], later: later[i] })),
    };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

async function sink(host: string, port: number, bytes: number, o: Opts): Promise<Result> {
  const data = randomBytes(bytes);
  const sha = createHash('sha256').update(data).digest('hex');
  const s = await tcpConnect(host, port, o);
  try {
    const reply = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const got: Buffer[] = [];
        s.on('data', (b: Buffer) => got.push(b));
        s.once('end', () => resolve(Buffer.concat(got).toString()));
        s.once('error', reject);
        s.end(data);
      }),
      o.timeoutMs,
      'sink',
    );
    const [n, digest] = reply.trim().split(' ');
    return { ok: Number(n) === bytes && digest === sha, sent: bytes, sha256: sha, reply: reply.trim() };
  } finally {
    s.destroy();
  }
}

/** Send arbitrary bytes (robustness tests); whatever comes back until close or timeout is reported. */
async function raw(proto: string, host: string, port: number, hex: string, o: Opts): Promise<Result> {
  const data = Buffer.from(hex, 'hex');
  const got: Buffer[] = [];
  if (proto === 'tcp') {
    const s = await tcpConnect(host, port, o);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, o.timeoutMs);
      s.on('data', (b: Buffer) => got.push(b));
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.on('error', () => undefined);
      s.write(data);
    });
    s.destroy();
  } else if (proto === 'udp') {
    const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => sock.bind({ address: o.source }, resolve));
    sock.on('message', (m) => got.push(m));
    sock.send(data, port, host);
    await new Promise((r) => setTimeout(r, o.timeoutMs));
    sock.close();
  } else throw new UsageError(`raw: "${proto}" is not tcp or udp`);
  const reply = Buffer.concat(got);
  return { ok: true, sent: data.length, replyHex: reply.toString('hex'), replyText: reply.toString('latin1') };
}

class UsageError extends Error {}

function num(v: string | undefined, what: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n) || n < 0) throw new UsageError(`${what}: expected a non-negative integer, got "${v}"`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  let result: Result;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { source: { type: 'string' }, timeout: { type: 'string', default: '3000' } },
    });
    const o: Opts = { source: values.source, timeoutMs: num(values.timeout, '--timeout') };
    const [cmd, a, b, c, d] = positionals;
    switch (cmd) {
      case 'dns':
        if (!a || !b) throw new UsageError('dns SERVER NAME [TYPE]');
        result = await dns(a, b, c ?? 'A', o);
        break;
      case 'echo':
        if (!a || !b || !c || d === undefined) throw new UsageError('echo tcp|udp HOST PORT TEXT');
        result = await echo(a, b, num(c, 'PORT'), d, o);
        break;
      case 'hold':
        if (!a || !b || !c) throw new UsageError('hold HOST PORT COUNT [MS]');
        result = await hold(a, num(b, 'PORT'), num(c, 'COUNT'), d === undefined ? 0 : num(d, 'MS'), o);
        break;
      case 'sink':
        if (!a || !b || !c) throw new UsageError('sink HOST PORT BYTES');
        result = await sink(a, num(b, 'PORT'), num(c, 'BYTES'), o);
        break;
      case 'raw':
        if (!a || !b || !c || d === undefined) throw new UsageError('raw tcp|udp HOST PORT HEX');
        result = await raw(a, b, num(c, 'PORT'), d, o);
        break;
      case undefined:
      default:
        throw new UsageError(`unknown command "${cmd ?? ''}" (dns, echo, hold, sink, raw)`);
    }
  } catch (err) {
    if (err instanceof UsageError || (err instanceof TypeError && 'code' in err)) {
      process.stderr.write(`lab client: ${err.message}\n`);
      return 2;
    }
    result = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  return result.ok ? 0 : 1;
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
