/**
 * One authenticated path connection as a {@link PathPort}: frames → plaintext → sealed record →
 * socket, and socket bytes → records → opened → frames → the engine. Writes made in one turn of
 * the event loop are corked together (one writev). A record that fails authentication or parsing
 * drops the path (logged by the caller through `onFail`); the engine then resends its chunks.
 */
import type { Socket } from 'node:net';
import { encodeDataHeader, encodeFrames, parseFrames, type Frame } from '../protocol/frames.js';
import type { Opener, Sealer } from '../protocol/aead.js';
import { RecordDecoder } from '../protocol/records.js';
import { RECORD_HEADER_LEN } from '../protocol/constants.js';
import type { PathPort } from '../core/ports.js';

/** How long a closed path may take to hand its last records to the peer (ms). */
const CLOSE_LINGER_MS = 2000;

export interface PathConnSink {
  /** The frames of one record and its size on the wire (bytes). */
  record(frames: Frame[], wireBytes: number): void;
  /** The connection is gone; `error` is set for authentication or protocol failures. */
  closed(reason: string, error: Error | undefined): void;
}

export class PathConn implements PathPort {
  private sink: PathConnSink | undefined;
  private readonly decoder: RecordDecoder;
  private corked = false;
  private done = false;
  /** A GOAWAY was sent: {@link close} lets the last records out. */
  private saidGoaway = false;
  private early: Buffer[] = [];

  constructor(
    readonly socket: Socket,
    private readonly sealer: Sealer,
    private readonly opener: Opener,
    handshake: { leftoverRecords: Buffer[]; leftoverBytes: Buffer; decoder: RecordDecoder | undefined },
  ) {
    this.decoder = handshake.decoder ?? new RecordDecoder();
    this.early = [...handshake.leftoverRecords];
    socket.setNoDelay(true);
    socket.on('data', (b: Buffer) => this.onData(b));
    socket.on('error', (err) => this.finish(`connection error: ${err.message}`, undefined));
    socket.on('close', () => this.finish('connection closed by the peer', undefined));
    if (handshake.leftoverBytes.length > 0) this.early.push(...this.safeDecode(handshake.leftoverBytes));
  }

  /** Start delivering to the engine (records that arrived during the handshake first). */
  attach(sink: PathConnSink): void {
    this.sink = sink;
    const early = this.early;
    this.early = [];
    for (const body of early) if (!this.done) this.onRecord(body);
  }

  private safeDecode(b: Buffer): Buffer[] {
    try {
      return this.decoder.push(b);
    } catch (err) {
      this.finish(`protocol violation: ${(err as Error).message}`, err as Error);
      return [];
    }
  }

  private onData(b: Buffer): void {
    if (this.done) return;
    const bodies = this.safeDecode(b);
    if (!this.sink) {
      this.early.push(...bodies);
      return;
    }
    for (const body of bodies) {
      if (this.done) return;
      this.onRecord(body);
    }
  }

  private onRecord(body: Buffer): void {
    let frames: Frame[];
    try {
      frames = parseFrames(this.opener.open(body));
    } catch (err) {
      this.finish((err as Error).message, err as Error);
      return;
    }
    this.sink!.record(frames, body.length + RECORD_HEADER_LEN);
  }

  private finish(reason: string, error: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    this.sink?.closed(reason, error);
  }

  private write(rec: Buffer): number {
    if (this.done) return rec.length;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(rec);
    return rec.length;
  }

  sendFrames(frames: readonly Frame[]): number {
    if (frames.some((f) => f.type === 'GOAWAY')) this.saidGoaway = true;
    return this.write(this.sealer.seal([encodeFrames(frames)]));
  }

  sendData(flow: number, offset: number, payload: Buffer): number {
    return this.write(this.sealer.seal([encodeDataHeader(flow, offset, payload.length), payload]));
  }

  /**
   * Close. After a GOAWAY (a close on purpose: stop, reload, a revoked key) what was written
   * before (the engine's last RSTs and the GOAWAY, still corked or queued) goes out, then a FIN;
   * a peer that does not take it within {@link CLOSE_LINGER_MS} is cut off. Without one (the path
   * failed) the connection is destroyed at once: its backlog is stale, already resent elsewhere.
   * Nothing is read any more either way.
   */
  close(_reason: string): void {
    if (this.done) return;
    this.done = true;
    if (!this.saidGoaway) {
      this.socket.destroy();
      return;
    }
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }

  /** Bytes queued in user space, not yet taken by the kernel. */
  get queued(): number {
    return this.socket.writableLength;
  }
}
