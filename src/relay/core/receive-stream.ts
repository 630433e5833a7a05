/**
 * The receiving half of one flow direction: the bounded reorder buffer. Chunks arrive by offset in
 * any order, possibly twice (after a resend); {@link pull} hands them out in order, exactly once.
 *
 * Bounds (docs/relay-protocol.md §7): the buffer never holds more than `window` bytes past the
 * delivered offset, and what it holds is *charged* at its payload plus {@link CHUNK_COST} per chunk
 * (the FIN counts as a one-byte chunk); the charge never exceeds `window` either, nor the room the
 * caller gives for the whole session. The sender counts the same charge, so a chunk beyond any of
 * these is a protocol violation ('overflow' / 'session-overflow'), never a reason to grow.
 *
 * Memory is charged by what a chunk really pins: a payload that arrives as a view into a larger
 * buffer (the decrypted record it came in) is copied out when the buffer is more than
 * {@link VIEW_SLACK} bytes larger than the payload, so a one-byte chunk padded to a 64 KiB record
 * holds one byte, not the record. Pure, no I/O.
 */

export type AcceptResult = 'new' | 'dup' | 'overflow' | 'session-overflow' | 'invalid';

/**
 * Charge per buffered chunk on top of its payload (bytes): what holding it costs besides its bytes
 * (map entry, item, buffer object and backing store: about 280 bytes of heap measured on Node 20,
 * about 650 bytes of RSS with allocator and collector slack) plus what a kept view may pin beyond
 * its payload ({@link VIEW_SLACK}). Both ends count it against the peer's window.
 */
export const CHUNK_COST = 512;

/** A payload is kept as a view only if its buffer is at most this much larger (a DATA header is 13). */
export const VIEW_SLACK = 64;

/** Bytes one chunk of `len` payload bytes (1 for the FIN) is charged. */
export function chunkCharge(len: number): number {
  return len + CHUNK_COST;
}

export interface RxItem {
  off: number;
  /** Payload; undefined for the FIN. */
  data: Buffer | undefined;
}

/** The payload as it will be kept: the view itself, or a copy when the view pins much more than itself. */
function own(data: Buffer): Buffer {
  if (data.buffer.byteLength - data.length <= VIEW_SLACK) return data;
  const copy = Buffer.allocUnsafeSlow(data.length);
  data.copy(copy);
  return copy;
}

export class ReceiveStream {
  /** Everything before this offset has been pulled (bytes; the FIN counts one). */
  delivered = 0;
  /** Payload bytes held, waiting for their turn. */
  buffered = 0;
  /** What the held chunks are charged: payload plus {@link CHUNK_COST} each (bytes). */
  charge = 0;
  /** Offset of the FIN once seen. */
  finAt: number | undefined;
  /** The FIN has been pulled: the stream is complete. */
  finished = false;
  private readonly buf = new Map<number, RxItem>();

  constructor(readonly window: number) {}

  /**
   * A chunk (or the FIN, `data` undefined) at `off`. `sessionRoom` is how much more charge the
   * session lets this stream take (bytes).
   */
  accept(off: number, data: Buffer | undefined, sessionRoom = Infinity): AcceptResult {
    const len = data ? data.length : 1;
    if (off < this.delivered) return off + len <= this.delivered ? 'dup' : 'invalid';
    if (this.buf.has(off)) return 'dup';
    if (this.finAt !== undefined && (data ? off + len > this.finAt : off !== this.finAt)) return 'invalid';
    if (!data && this.buf.size > 0 && [...this.buf.keys()].some((k) => k >= off)) return 'invalid';
    if (off + len - this.delivered > this.window) return 'overflow';
    const cost = chunkCharge(len);
    // The next in-order chunk on an empty buffer always fits (a window smaller than one chunk still moves).
    const alone = this.buf.size === 0 && off === this.delivered;
    if (this.charge + cost > this.window && !alone) return 'overflow';
    if (cost > sessionRoom) return 'session-overflow';
    this.buf.set(off, { off, data: data && own(data) });
    this.charge += cost;
    if (data) this.buffered += data.length;
    else this.finAt = off;
    return 'new';
  }

  /** Whether the next in-order item is here. */
  get ready(): boolean {
    return this.buf.has(this.delivered);
  }

  /** The next in-order item, or undefined while it is missing. */
  pull(): RxItem | undefined {
    const it = this.buf.get(this.delivered);
    if (!it) return undefined;
    this.buf.delete(this.delivered);
    if (it.data) {
      this.buffered -= it.data.length;
      this.charge -= chunkCharge(it.data.length);
      this.delivered += it.data.length;
    } else {
      this.charge -= chunkCharge(1);
      this.delivered += 1;
      this.finished = true;
    }
    return it;
  }

  /** Chunks held out of order or waiting for the sink. */
  get chunks(): number {
    return this.buf.size;
  }
}
