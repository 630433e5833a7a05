/**
 * The open event streams, bounded: at most `maxClients` at once (one more is refused, the caller
 * answers 503), and a client that stops reading (more than `maxBacklog` bytes queued for it) is
 * disconnected so it cannot grow the daemon's memory; its browser reconnects and reloads the
 * snapshot. A comment every `heartbeatMs` keeps idle streams open through proxies and finds dead
 * peers. Works on anything with `write`, `writableLength`, `destroy` and a `close` event, so
 * tests drive it with fakes.
 */
import { sseComment } from './sse.js';

export const MAX_SSE_CLIENTS = 8;
export const MAX_SSE_BACKLOG = 1024 * 1024;
export const HEARTBEAT_MS = 15_000;

export interface StreamSink {
  write(chunk: string): unknown;
  readonly writableLength: number;
  destroy(): unknown;
  once(event: 'close', f: () => void): unknown;
}

export class SseHub {
  private readonly clients = new Set<StreamSink>();
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;

  constructor(
    private readonly opts: {
      maxClients?: number;
      maxBacklog?: number;
      heartbeatMs?: number;
      /** Told once per slow client dropped (the caller rate-limits its log). */
      onDrop?: (backlog: number) => void;
    } = {},
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Slow clients disconnected so far. */
  get droppedClients(): number {
    return this.dropped;
  }

  /** Take a client; false when `maxClients` are already open (nothing was written to it). */
  add(sink: StreamSink, first: string): boolean {
    if (this.clients.size >= (this.opts.maxClients ?? MAX_SSE_CLIENTS)) return false;
    this.clients.add(sink);
    sink.once('close', () => {
      this.clients.delete(sink);
      if (this.clients.size === 0) this.stopTimer();
    });
    sink.write(first);
    if (!this.timer) {
      this.timer = setInterval(() => this.broadcast(sseComment('keep-alive')), this.opts.heartbeatMs ?? HEARTBEAT_MS);
      this.timer.unref();
    }
    return true;
  }

  /** Send a frame to every client; a client over its backlog is disconnected instead. */
  broadcast(frame: string): void {
    const max = this.opts.maxBacklog ?? MAX_SSE_BACKLOG;
    for (const c of this.clients) {
      if (c.writableLength > max) {
        this.clients.delete(c);
        this.dropped++;
        this.opts.onDrop?.(c.writableLength);
        c.destroy();
        continue;
      }
      c.write(frame);
    }
    if (this.clients.size === 0) this.stopTimer();
  }

  close(): void {
    this.stopTimer();
    for (const c of this.clients) c.destroy();
    this.clients.clear();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
