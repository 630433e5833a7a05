/**
 * The engine's flow table: the live flows by id (each with its two stream halves), the closed
 * flows remembered for a while (tombstones, so a late chunk or a resent OPEN gets the right
 * answer), and flow-id allocation. Bounded: at most {@link MAX_TOMBSTONES} tombstones, each kept
 * {@link TOMBSTONE_MS}; the live flows are bounded by the engine (`maxFlows`). Pure, no I/O.
 */
import type { OpenRequest } from '../protocol/frames.js';
import type { FlowPort } from './ports.js';
import type { ReceiveStream } from './receive-stream.js';
import type { SendStream } from './send-stream.js';

/** Entry: OPEN sent, waiting for OPENED. Exit: OPEN received, connecting to the target. Then open. */
export type Phase = 'opening' | 'connecting' | 'open';

export interface FlowState {
  id: number;
  port: FlowPort | undefined;
  phase: Phase;
  target: OpenRequest | undefined;
  tx: SendStream;
  rx: ReceiveStream;
  readPaused: boolean;
  sinkBlocked: boolean;
  /** Path id of the last OPEN (entry) or OPENED (exit) we sent, to resend it if that path dies. */
  ctlPath: number;
  openedAt: number;
}

export interface Tombstone {
  id: number;
  /** undefined: closed normally. */
  reason: number | undefined;
  /** Our final delivered offset, to re-acknowledge a late resend. */
  rxEnd: number;
  /** Path id our RST went out on (-1: not sent yet or not needed). */
  rstPath: number;
  expires: number;
}

/** How long a closed flow is remembered (ms). */
export const TOMBSTONE_MS = 30_000;
/** Closed flows remembered at most (about 100 bytes each); the oldest are forgotten first. */
export const MAX_TOMBSTONES = 65_536;

const MAX_ID = 0xffffffff;

export class FlowTable {
  private readonly flows = new Map<number, FlowState>();
  private readonly tombs = new Map<number, Tombstone>();
  private readonly tombQueue: Tombstone[] = [];
  private nextId = 1;

  get size(): number {
    return this.flows.size;
  }

  get tombstoneCount(): number {
    return this.tombs.size;
  }

  get(id: number): FlowState | undefined {
    return this.flows.get(id);
  }

  has(id: number): boolean {
    return this.flows.has(id);
  }

  values(): IterableIterator<FlowState> {
    return this.flows.values();
  }

  add(f: FlowState): void {
    this.flows.set(f.id, f);
  }

  delete(id: number): boolean {
    return this.flows.delete(id);
  }

  /** A fresh flow id (1..2^32-1) neither live nor remembered. */
  allocId(): number {
    let id = this.nextId;
    while (this.flows.has(id) || this.tombs.has(id) || id === 0) id = id >= MAX_ID ? 1 : id + 1;
    this.nextId = id >= MAX_ID ? 1 : id + 1;
    return id;
  }

  tombstone(id: number): Tombstone | undefined {
    return this.tombs.get(id);
  }

  tombstones(): IterableIterator<Tombstone> {
    return this.tombs.values();
  }

  /** Remember a closed flow; the oldest are forgotten beyond {@link MAX_TOMBSTONES}. */
  bury(t: Tombstone): void {
    this.tombs.set(t.id, t);
    this.tombQueue.push(t);
    while (this.tombs.size > MAX_TOMBSTONES || this.tombQueue.length > 2 * MAX_TOMBSTONES) {
      const old = this.tombQueue.shift()!;
      if (this.tombs.get(old.id) === old) this.tombs.delete(old.id);
    }
  }

  /** Forget the tombstones that expired by `now`. */
  expire(now: number): void {
    while (this.tombQueue.length > 0 && this.tombQueue[0]!.expires <= now) {
      const t = this.tombQueue.shift()!;
      if (this.tombs.get(t.id) === t) this.tombs.delete(t.id);
    }
  }
}
