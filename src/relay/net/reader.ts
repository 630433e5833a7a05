/**
 * Reading a handshake off a socket: exact byte counts and whole records, with one deadline for the
 * whole exchange. When the handshake is done, {@link HandshakeReader.detach} hands back whatever
 * arrived after it, so the path connection starts from the right byte. Errors carry a short reason
 * for the log ("closed by peer after 12 bytes", "timed out").
 */
import type { Socket } from 'node:net';
import { WanbraidError } from '../../errors.js';
import { RecordDecoder } from '../protocol/records.js';

export class HandshakeError extends WanbraidError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WB_RELAY_AUTH', message, options);
    this.name = 'HandshakeError';
  }
}

export class HandshakeReader {
  private buf: Buffer[] = [];
  private len = 0;
  private records: Buffer[] = [];
  private decoder: RecordDecoder | undefined;
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private received = 0;
  private detached = false;
  private readonly onData = (b: Buffer) => {
    this.received += b.length;
    if (this.decoder) {
      try {
        this.records.push(...this.decoder.push(b));
      } catch (err) {
        this.fail(new HandshakeError(`garbage during the handshake: ${(err as Error).message}`, { cause: err }));
      }
    } else {
      this.buf.push(b);
      this.len += b.length;
    }
    this.wake();
  };
  private readonly onEnd = () => this.fail(new HandshakeError(`closed by the peer during the handshake (after ${this.received} bytes)`));
  private readonly onError = (err: Error) => this.fail(new HandshakeError(`connection error during the handshake: ${err.message}`, { cause: err }));

  constructor(
    private readonly socket: Socket,
    timeoutMs: number,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    this.timer = setTimeout(() => this.fail(new HandshakeError(`handshake timed out after ${timeoutMs} ms (${this.received} bytes received)`)), timeoutMs);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Exactly n raw bytes. */
  async bytes(n: number): Promise<Buffer> {
    await this.until(() => this.len >= n);
    const all = Buffer.concat(this.buf);
    this.buf = all.length > n ? [all.subarray(n)] : [];
    this.len = all.length - n;
    return all.subarray(0, n);
  }

  /** The next record body; from the first call on, bytes are read as records. */
  async record(): Promise<Buffer> {
    if (!this.decoder) {
      this.decoder = new RecordDecoder();
      const rest = Buffer.concat(this.buf);
      this.buf = [];
      this.len = 0;
      try {
        this.records.push(...this.decoder.push(rest));
      } catch (err) {
        throw new HandshakeError(`garbage during the handshake: ${(err as Error).message}`, { cause: err });
      }
    }
    await this.until(() => this.records.length > 0);
    return this.records.shift()!;
  }

  /** Stop reading; returns the bytes that arrived after what was consumed (as raw stream bytes). */
  detach(): { leftoverRecords: Buffer[]; leftoverBytes: Buffer; decoder: RecordDecoder | undefined } {
    if (this.detached) return { leftoverRecords: [], leftoverBytes: Buffer.alloc(0), decoder: undefined };
    this.detached = true;
    clearTimeout(this.timer);
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    return { leftoverRecords: this.records, leftoverBytes: Buffer.concat(this.buf), decoder: this.decoder };
  }
}
