/**
 * The receiving half of one flow direction: the bounded reorder buffer. Chunks arrive by offset in
 * any order, possibly twice (after a resend); {@link pull} hands them out in order, exactly once.
 * The buffer never holds more than `window` bytes past the delivered offset: the sender respects
 * that window, so a chunk beyond it is a protocol violation ('overflow'), never a reason to grow.
 * Pure, no I/O.
 */

export type AcceptResult = 'new' | 'dup' | 'overflow' | 'invalid';

export interface RxItem {
  off: number;
  /** Payload; undefined for the FIN. */
  data: Buffer | undefined;
}

export class ReceiveStream {
  /** Everything before this offset has been pulled (bytes; the FIN counts one). */
  delivered = 0;
  /** Payload bytes held, waiting for their turn. */
  buffered = 0;
  /** Offset of the FIN once seen. */
  finAt: number | undefined;
  /** The FIN has been pulled: the stream is complete. */
  finished = false;
  private readonly buf = new Map<number, RxItem>();

  constructor(readonly window: number) {}

  accept(off: number, data: Buffer | undefined): AcceptResult {
    const len = data ? data.length : 1;
    if (off < this.delivered) return off + len <= this.delivered ? 'dup' : 'invalid';
    if (this.buf.has(off)) return 'dup';
    if (this.finAt !== undefined && (data ? off + len > this.finAt : off !== this.finAt)) return 'invalid';
    if (!data && this.buf.size > 0 && [...this.buf.keys()].some((k) => k >= off)) return 'invalid';
    if (off + len - this.delivered > this.window) return 'overflow';
    this.buf.set(off, { off, data });
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
      this.delivered += it.data.length;
    } else {
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
