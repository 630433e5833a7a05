/**
 * Helpers for the relay's real-socket tests: a target server, a client, deterministic content,
 * key files, a log capture, and a TCP proxy that can freeze (a blackhole: nothing passes, nothing
 * closes), corrupt a byte, record what passes, or drop every connection. Not a test file.
 */
import net from 'node:net';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { generateKey } from '../../../src/relay/key.js';

/** Deterministic pseudo-random bytes (AES-CTR keystream of `seed`), fast enough for 100s of MB. */
export class Pattern {
  private readonly cipher;
  private readonly zero = Buffer.alloc(64 * 1024);
  constructor(seed: number) {
    const key = Buffer.alloc(16);
    key.writeUInt32BE(seed >>> 0, 0);
    this.cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  }
  next(n: number): Buffer {
    if (n <= this.zero.length) return this.cipher.update(this.zero.subarray(0, n));
    return this.cipher.update(Buffer.alloc(n));
  }
}

export function patternSha(seed: number, len: number): string {
  const p = new Pattern(seed);
  const h = createHash('sha256');
  for (let left = len; left > 0; ) {
    const n = Math.min(left, 64 * 1024);
    h.update(p.next(n));
    left -= n;
  }
  return h.digest('hex');
}

export function keyFile(dir: string, name = 'relay.key'): string {
  const f = join(dir, name);
  writeFileSync(f, generateKey() + '\n', { mode: 0o600 });
  return f;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'wb-relay-'));
}

/** A logger that keeps every line (parsed) for assertions. */
export function captureLogger(level = 'info'): { logger: Logger; lines: Record<string, unknown>[]; has(msg: string | RegExp): boolean } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return {
    logger,
    lines,
    has: (msg) => lines.some((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)))),
  };
}

/**
 * The target: for each connection it sends `reply` bytes of pattern `replySeed`, reads until the
 * client's FIN hashing what came, then writes the 64-hex sha256 of it and closes. The client
 * half-closes first and still gets everything.
 */
export class Target {
  server: net.Server;
  connections = 0;
  resets = 0;
  readonly results: { bytes: number; sha: string }[] = [];
  constructor(
    public reply: number,
    public replySeed = 1000,
  ) {
    this.server = net.createServer({ allowHalfOpen: true }, (s) => this.serve(s));
  }
  async listen(host = '127.0.0.1', port = 0): Promise<number> {
    await new Promise<void>((r) => this.server.listen({ host, port }, r));
    return (this.server.address() as net.AddressInfo).port;
  }
  private serve(s: net.Socket): void {
    this.connections++;
    const h = createHash('sha256');
    let bytes = 0;
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') this.resets++;
    });
    s.on('data', (b: Buffer) => {
      h.update(b);
      bytes += b.length;
    });
    const p = new Pattern(this.replySeed);
    let left = this.reply;
    let gotFin = false;
    let sentAll = false;
    const finish = () => {
      if (!gotFin || !sentAll) return;
      const sha = h.digest('hex');
      this.results.push({ bytes, sha });
      s.end(sha);
    };
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, 64 * 1024);
        left -= n;
        if (!s.write(p.next(n))) {
          s.once('drain', pump);
          return;
        }
      }
      sentAll = true;
      finish();
    };
    s.on('end', () => {
      gotFin = true;
      finish();
    });
    pump();
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

export interface ClientResult {
  received: number;
  /** sha256 of the first `expectReply` bytes received. */
  replySha: string;
  /** What followed: the target's sha256 of our upload. */
  trailer: string;
  error?: string;
}

/** Connect, upload `upload` bytes of pattern `seed` then FIN, read everything until the server closes. */
/**
 * A connection that uploads `upload` pattern bytes and reads the reply. With `endAfterMs` it keeps
 * its sending side open that long after the upload before closing it (the target replies in full
 * only after that): a flow that cannot finish before something the test does to it.
 */
export function client(port: number, upload: number, seed: number, expectReply: number, host = '127.0.0.1', opts: { endAfterMs?: number } = {}): Promise<ClientResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, allowHalfOpen: true });
    const h = createHash('sha256');
    let received = 0;
    const tail: Buffer[] = [];
    s.on('data', (b: Buffer) => {
      const inReply = Math.max(0, Math.min(b.length, expectReply - received));
      if (inReply > 0) h.update(b.subarray(0, inReply));
      if (inReply < b.length) tail.push(b.subarray(inReply));
      received += b.length;
    });
    let error: string | undefined;
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    // A reset must not pass for a clean end. Node's libuv (1.46 in Node 20) reports a TCP RST that
    // arrives behind unread data as EOF: a partial read with POLLHUP is taken for the end of the
    // stream and the socket's pending ECONNRESET is never read (libuv/libuv#4992, fixed by #4997).
    // So on 'end', while our side is still open, ask the kernel with a zero-length write: it fails
    // with that pending ECONNRESET after a reset, and succeeds (sending nothing) after a FIN.
    s.on('end', () => {
      if (!s.writableEnded && !s.destroyed) s.write(Buffer.alloc(0));
    });
    s.on('close', () => {
      const r: ClientResult = { received, replySha: h.digest('hex'), trailer: Buffer.concat(tail).toString() };
      if (error) r.error = error;
      resolve(r);
    });
    const p = new Pattern(seed);
    let left = upload;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, 64 * 1024);
        left -= n;
        if (!s.write(p.next(n))) {
          s.once('drain', pump);
          return;
        }
      }
      if (opts.endAfterMs === undefined) s.end();
      else setTimeout(() => s.end(), opts.endAfterMs).unref();
    };
    s.once('connect', pump);
  });
}

type Mode = 'pass' | 'freeze';

/** A TCP proxy in front of `to`, for breaking paths on purpose. */
export class Proxy {
  server: net.Server;
  mode: Mode = 'pass';
  /** Flip one bit of the client→server byte at this absolute offset of the next connection. */
  corruptAt: number | undefined;
  /** Client→server bytes of each connection, when recording. */
  recording: Buffer[][] | undefined;
  private pairs = new Set<[net.Socket, net.Socket]>();
  /** Connections accepted so far. */
  accepted = 0;
  port = 0;
  constructor(private readonly to: number) {
    this.server = this.make();
  }
  private make(): net.Server {
    return net.createServer((c) => {
      const u = net.connect({ host: '127.0.0.1', port: this.to });
      const pair: [net.Socket, net.Socket] = [c, u];
      this.pairs.add(pair);
      this.accepted++;
      const rec: Buffer[] | undefined = this.recording ? [] : undefined;
      if (rec) this.recording!.push(rec);
      let offset = 0;
      const corrupt = this.corruptAt;
      this.corruptAt = undefined;
      c.on('data', (b: Buffer) => {
        if (this.mode === 'freeze') return;
        let out = b;
        if (corrupt !== undefined && corrupt >= offset && corrupt < offset + b.length) {
          out = Buffer.from(b);
          out[corrupt - offset]! ^= 0x10;
        }
        offset += b.length;
        rec?.push(Buffer.from(b));
        u.write(out);
      });
      u.on('data', (b: Buffer) => {
        if (this.mode !== 'freeze') c.write(b);
      });
      const end = () => {
        this.pairs.delete(pair);
        if (this.mode === 'freeze') return;
        c.destroy();
        u.destroy();
      };
      c.on('close', end);
      u.on('close', end);
      c.on('error', () => undefined);
      u.on('error', () => undefined);
    });
  }
  async listen(port = 0): Promise<number> {
    await new Promise<void>((r) => this.server.listen({ host: '127.0.0.1', port }, r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }
  /** Close the listener and every connection (RST both ways). */
  async kill(): Promise<void> {
    for (const [c, u] of this.pairs) {
      c.resetAndDestroy();
      u.resetAndDestroy();
    }
    this.pairs.clear();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
  /** Listen again on the same port after kill(). */
  async revive(): Promise<void> {
    this.mode = 'pass';
    this.server = this.make();
    await this.listen(this.port);
  }
  async close(): Promise<void> {
    await this.kill().catch(() => undefined);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
