/**
 * A user's or a target's TCP connection as a {@link FlowPort}, and the wiring of its events into
 * the engine: data, FIN (half-close), drain, errors. A connection that closes after both FINs is
 * left to the engine to complete (it may still wait for the far end's last ACK); one that closes
 * any other way resets the flow, and the far end resets its side.
 */
import type { Socket } from 'node:net';
import type { FlowPort } from '../core/ports.js';
import type { Mux } from '../core/mux.js';

/**
 * Bytes a flow socket may buffer in user space before the engine waits for 'drain'. Above the
 * socket's own high-water mark (16 KiB) so that several chunks leave in one writev.
 */
const WRITE_LIMIT = 128 * 1024;

export class SocketFlow implements FlowPort {
  private readEnded = false;
  private writeEnded = false;
  private corked = false;

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
  }

  /** Route the socket's events to flow `id` of `mux`. */
  bind(mux: Mux, id: number): void {
    const s = this.socket;
    s.on('data', (b: Buffer) => mux.flowData(id, b));
    s.on('end', () => {
      this.readEnded = true;
      mux.flowEnd(id);
    });
    s.on('drain', () => mux.flowDrain(id));
    s.on('error', () => mux.flowError(id));
    s.on('close', () => {
      if (!(this.readEnded && this.writeEnded)) mux.flowError(id);
    });
  }

  write(data: Buffer): boolean {
    const s = this.socket;
    if (s.destroyed) return true;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        this.corked = false;
        s.uncork();
      });
    }
    // A false from write() (over 16 KiB) arms 'drain'; we only stop at WRITE_LIMIT, which is above it.
    s.write(data);
    return s.writableLength < WRITE_LIMIT;
  }
  end(): void {
    this.writeEnded = true;
    if (!this.socket.destroyed) this.socket.end();
  }
  reset(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }
  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }
}
