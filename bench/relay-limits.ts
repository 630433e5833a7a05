/**
 * The reproductions of issue 9 §5 against a real exit process on loopback, with its peak resident
 * memory (RSS, polled every 50 ms through the standalone control). Not part of `npm run bench`:
 * run it directly, optionally against another build's exit to compare before and after:
 *
 *   node dist/bench/relay-limits.js [padded|tiny|halfopen|spread ...] [--exit PATH/standalone.js]
 *
 *   attacker (this process, holds the key) ──► exit :X (child process) ──► target :T (never reads)
 *
 * - padded:   8000 one-byte chunks at odd offsets on one flow, each in its own record padded to the
 *             largest plaintext (the padding is a 65 KB DATA frame for an unknown flow);
 * - tiny:     2 000 000 one-byte chunks at odd offsets on one flow, about 4600 per record;
 * - halfopen: 4000 connections from 127.0.0.1 sending a ClientHello and 65 KB of a first record;
 * - spread:   the same 4000 connections from 200 source addresses (127.0.1.x).
 * Bounded loops, loopback only.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RelayProcess, STANDALONE_SCRIPT } from '../src/relay/standalone-process.js';
import { generateKey, parseKey } from '../src/relay/key.js';
import { clientHandshake } from '../src/relay/net/handshake.js';
import { encodeClientHello, newEphemeral } from '../src/relay/protocol/handshake.js';
import { peerKey } from '../src/relay/key.js';
import { encodeDataHeader, encodeFrames, type Frame } from '../src/relay/protocol/frames.js';
import { MAX_CHUNK, MAX_PLAINTEXT, MAX_RECORD_BODY } from '../src/relay/protocol/constants.js';
import type { Sealer } from '../src/relay/protocol/aead.js';
import type { PathConn } from '../src/relay/net/path-conn.js';
import { freePort } from '../test/lab/relay/helpers.js';

const MiB = 1 << 20;
const N_PADDED = Number(process.env.N_PADDED ?? 8000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  exit: RelayProcess;
  port: number;
  tport: number;
  key: Buffer;
  target: net.Server;
  peak: number;
  stopPoll: () => void;
}

async function start(exitScript: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-limits-'));
  const keyText = generateKey();
  writeFileSync(join(dir, 'k'), keyText + '\n', { mode: 0o600 });
  const key = parseKey(keyText) as Buffer;
  // The target accepts and never reads: what the exit delivers stays in its socket, the rest in the reorder buffer.
  const held: net.Socket[] = [];
  const target = net.createServer({ pauseOnConnect: true }, (c) => void held.push(c));
  (target as net.Server & { held?: net.Socket[] }).held = held;
  await new Promise<void>((r) => target.listen({ host: '127.0.0.1', port: 0 }, r));
  const tport = (target.address() as net.AddressInfo).port;
  const port = await freePort();
  const cfg = join(dir, 'exit.yaml');
  writeFileSync(cfg, `relay:\n  exit: { listen: 127.0.0.1:${port}, keyFile: ${join(dir, 'k')}, allow: [127.0.0.1:${tport}] }\n`);
  const exit = await RelayProcess.start((argv) => spawn(argv[0]!, [exitScript, ...argv.slice(2)], { stdio: 'pipe' }), cfg);
  await sleep(300);
  const run: Run = { exit, port, tport, key, target, peak: 0, stopPoll: () => undefined };
  let polling = true;
  run.stopPoll = () => (polling = false);
  void (async () => {
    while (polling) {
      try {
        run.peak = Math.max(run.peak, (await exit.status()).rss);
      } catch {
        return;
      }
      await sleep(50);
    }
  })();
  return run;
}

async function path(run: Run): Promise<{ sock: net.Socket; conn: PathConn; sealer: Sealer; got: Frame[] }> {
  const sock = net.connect({ host: '127.0.0.1', port: run.port });
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('connect', r));
  const { conn } = await clientHandshake(sock, { name: 'atk', ...peerKey(run.key) }, { session: randomBytes(16), slot: 0, window: 4 * MiB, name: 'atk/p0' }, 5000);
  const got: Frame[] = [];
  let received = 0;
  // Answer with PATH_ACKs as a real entry would, or the exit declares the path dead after pathTimeout.
  conn.attach({
    record: (frames, bytes) => {
      received += bytes;
      got.push(...frames.filter((f) => f.type !== 'PATH_ACK' && f.type !== 'PING'));
      if (frames.some((f) => f.type !== 'ACK' && f.type !== 'PATH_ACK')) conn.sendFrames([{ type: 'PATH_ACK', received, time: Date.now() >>> 0 }]);
    },
    closed: (reason) => console.error(`attacker path closed: ${reason}`),
  });
  return { sock, conn, sealer: (conn as unknown as { sealer: Sealer }).sealer, got };
}

async function write(sock: net.Socket, b: Buffer): Promise<void> {
  if (!sock.write(b)) await new Promise<void>((r) => sock.once('drain', r));
}

async function openFlow(run: Run, p: Awaited<ReturnType<typeof path>>, flow: number): Promise<void> {
  p.conn.sendFrames([{ type: 'OPEN', flow, target: { host: '127.0.0.1', port: run.tport, family: 4 } }]);
  for (let i = 0; i < 200 && !p.got.some((f) => f.type === 'OPENED' && f.flow === flow); i++) await sleep(10);
}

/** Wait until the exit has read everything we wrote on this path (its path counter catches up). */
async function drained(run: Run, sent: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const s = (await run.exit.status()).status.exit?.sessions[0];
    if (!s || (s.paths[0]?.rxBytes ?? 0) >= sent || s.paths.length === 0) return;
    await sleep(100);
  }
}

async function padded(run: Run): Promise<string> {
  const p = await path(run);
  await openFlow(run, p, 1);
  let sent = 0;
  for (let i = 0; i < N_PADDED; i++) {
    // Padding: a DATA frame of the largest chunk for a flow the exit does not have (dropped).
    const plain = Buffer.alloc(14 + 13 + MAX_CHUNK);
    encodeDataHeader(1, 2 * i + 1, 1).copy(plain, 0);
    plain[13] = 0x55;
    encodeDataHeader(999, 0, MAX_CHUNK).copy(plain, 14);
    const rec = p.sealer.seal([plain]);
    sent += rec.length;
    await write(p.sock, rec);
  }
  await drained(run, sent);
  await sleep(500);
  const s = (await run.exit.status()).status.exit!.sessions[0];
  return `flows ${s?.flows ?? 0}, reorderBytes ${s?.reorderBytes ?? 0}, RSTs back ${p.got.filter((f) => f.type === 'RST' && f.flow === 1).length}`;
}

async function tiny(run: Run): Promise<string> {
  const p = await path(run);
  await openFlow(run, p, 1);
  const per = Math.floor((MAX_PLAINTEXT - 100) / 14);
  let sent = 0;
  let off = 1;
  for (let n = 0; n < 2_000_000; ) {
    const frames: Frame[] = [];
    for (let k = 0; k < per && n < 2_000_000; k++, n++, off += 2) frames.push({ type: 'DATA', flow: 1, offset: off, data: Buffer.from([n & 0xff]) });
    const rec = p.sealer.seal([encodeFrames(frames)]);
    sent += rec.length;
    await write(p.sock, rec);
  }
  await drained(run, sent);
  await sleep(500);
  const s = (await run.exit.status()).status.exit!.sessions[0];
  return `flows ${s?.flows ?? 0}, reorderBytes ${s?.reorderBytes ?? 0}, RSTs back ${p.got.filter((f) => f.type === 'RST' && f.flow === 1).length > 0}`;
}

async function halfOpen(run: Run, sources: number): Promise<string> {
  const socks: net.Socket[] = [];
  let closedEarly = 0;
  const body = Buffer.alloc(4);
  body.writeUInt32BE(MAX_RECORD_BODY, 0);
  const payload = Buffer.concat([encodeClientHello('atk', peerKey(run.key).macKey, newEphemeral().share), body, randomBytes(65_000)]);
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: 4000 }, async (_, i) => {
      const from = sources === 1 ? '127.0.0.1' : `127.0.1.${1 + (i % sources)}`;
      const s = net.connect({ host: '127.0.0.1', port: run.port, localAddress: from });
      socks.push(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        if (Date.now() - t0 < 2500) closedEarly++;
      });
      await new Promise<void>((r) => {
        s.once('connect', r);
        s.once('close', () => r());
      });
      s.write(payload);
    }),
  );
  await sleep(1500);
  const x = (await run.exit.status()).status.exit!;
  for (const s of socks) s.destroy();
  return `connected in ${Date.now() - t0 - 1500} ms, closed by the exit within 2.5 s: ${closedEarly}, exit counted rejected ${x.rejected}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--exit');
  const exitScript = i >= 0 ? args[i + 1]! : STANDALONE_SCRIPT;
  const which = args.filter((a, k) => !a.startsWith('--') && args[k - 1] !== '--exit');
  const cases: Record<string, (r: Run) => Promise<string>> = { padded, tiny, halfopen: (r) => halfOpen(r, 1), spread: (r) => halfOpen(r, 200) };
  for (const name of which.length > 0 ? which : Object.keys(cases)) {
    const run = await start(exitScript);
    const before = (await run.exit.status()).rss;
    const t = Date.now();
    const what = await cases[name]!(run);
    run.stopPoll();
    await sleep(60);
    const after = (await run.exit.status()).rss;
    const lines = run.exit.logs.length;
    if (process.env.SHOW_LOGS) for (const l of run.exit.logs) console.error(JSON.stringify(l));
    console.log(
      JSON.stringify({ case: name, exit: exitScript, rssBeforeMiB: +(before / MiB).toFixed(1), rssPeakMiB: +(Math.max(run.peak, after) / MiB).toFixed(1), rssEndMiB: +(after / MiB).toFixed(1), seconds: (Date.now() - t) / 1000, logLines: lines, what }),
    );
    await run.exit.stop();
    // The target never reads, so it never sees the exit's close: drop its sockets first.
    for (const c of (run.target as net.Server & { held?: net.Socket[] }).held ?? []) c.destroy();
    await new Promise<void>((r) => run.target.close(() => r()));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
