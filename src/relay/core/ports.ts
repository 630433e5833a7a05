/**
 * The narrow interfaces between the relay engine (mux.ts) and the sockets: a {@link PathPort} is
 * an authenticated, encrypted path connection; a {@link FlowPort} is the TCP connection of one
 * user flow (the user's socket at the entry, the target's at the exit). The net/ adapters
 * implement them over node:net; unit tests implement them over a simulated network.
 */
import type { Frame } from '../protocol/frames.js';

export interface PathPort {
  /** Encrypt and queue one record holding these frames; returns its size on the wire (bytes). */
  sendFrames(frames: readonly Frame[]): number;
  /** Encrypt and queue one record holding one DATA frame; returns its size on the wire (bytes). */
  sendData(flow: number, offset: number, payload: Buffer): number;
  /** Close the connection now. The engine has already forgotten the path. */
  close(reason: string): void;
  /**
   * Bytes written and still queued in user space (not yet taken by the kernel), if the port can
   * tell. The engine counts them as in flight whatever the peer's PATH_ACKs claim, so a peer that
   * acknowledges what it never read cannot grow the queue past the path's cap.
   */
  readonly queued?: number;
}

export interface FlowPort {
  /** Write bytes towards the application; false when its buffer is over the high-water mark (wait for drain). */
  write(data: Buffer): boolean;
  /** Half-close towards the application (send our FIN). */
  end(): void;
  /** Abort the connection with a TCP reset. */
  reset(): void;
  /** Stop / restart reading from the application. */
  pause(): void;
  resume(): void;
}
