/**
 * The sending half of one flow direction: every chunk stays here from the moment the source hands
 * it over until the far end acknowledges it (cumulative ACK by byte offset). Pure, no I/O.
 *
 * Offsets: chunk i covers [off, off + len); the FIN occupies one unit at the end of the stream.
 * {@link peek} hands out retransmissions first (lowest offset first), then new chunks while they
 * fit in the peer's window: the bytes past the acknowledged offset plus {@link CHUNK_COST} per
 * unacknowledged chunk, the charge the receiver holds us to (receive-stream.ts), so a flow of tiny
 * chunks is paused by the window instead of being reset for overrunning it. {@link pathFailed} takes back the
 * chunks a dead path carried that are not yet acknowledged; the receiver drops the duplicates a
 * resend may create, by offset.
 */
import { RelayProtocolError } from '../protocol/frames.js';
import { CHUNK_COST, chunkCharge } from './receive-stream.js';

export interface TxItem {
  /** Stream offset of the first byte (bytes). */
  readonly off: number;
  /** Bytes of payload, or 1 for the FIN. */
  readonly len: number;
  /** Payload; undefined for the FIN. */
  readonly data: Buffer | undefined;
  /** Path slot it was last sent on; -1 while waiting to be (re)sent. */
  path: number;
  /** Times it was sent. */
  sends: number;
}

export class SendStream {
  private items: TxItem[] = [];
  /** Index in items of the first unacknowledged item. */
  private head = 0;
  /** Index in items of the first item never sent. */
  private fresh = 0;
  /** Items waiting to be resent, sorted by offset; may hold items acknowledged since (skipped lazily). */
  private resend: TxItem[] = [];
  /** Everything before this offset is acknowledged by the far end (bytes). */
  acked = 0;
  /** Offset after the last queued item (bytes). */
  end = 0;
  /** Highest offset sent so far (end of the furthest item sent). */
  sentEnd = 0;
  finQueued = false;
  /** Charge of the chunks sent at least once and not yet acknowledged (bytes, {@link chunkCharge} each). */
  sentCharge = 0;

  /** Bytes queued here (sent or not) that the far end has not acknowledged. */
  get held(): number {
    return this.end - this.acked;
  }

  /** FIN queued and everything up to and including it acknowledged. */
  get done(): boolean {
    return this.finQueued && this.acked === this.end;
  }

  /** Items in the retransmission queue that still need sending. */
  get resendPending(): number {
    return this.resend.filter((i) => i.off >= this.acked).length;
  }

  push(data: Buffer): void {
    if (this.finQueued) throw new RangeError('data after FIN');
    if (data.length === 0) return;
    this.items.push({ off: this.end, len: data.length, data, path: -1, sends: 0 });
    this.end += data.length;
  }

  pushFin(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    this.items.push({ off: this.end, len: 1, data: undefined, path: -1, sends: 0 });
    this.end += 1;
  }

  /**
   * The next item to send without removing it: a retransmission, else the next new item if the
   * charge of everything unacknowledged up to and including it (bytes past the acknowledged offset
   * plus {@link CHUNK_COST} per chunk) stays within `window`. The first unacknowledged item always goes.
   */
  peek(window: number): TxItem | undefined {
    while (this.resend.length > 0 && this.resend[0]!.off < this.acked) this.resend.shift();
    if (this.resend.length > 0) return this.resend[0];
    const it = this.items[this.fresh];
    if (!it) return undefined;
    if (it.off === this.acked || it.off + it.len - this.acked + CHUNK_COST * (this.fresh - this.head + 1) <= window) return it;
    return undefined;
  }

  /** Record that the item {@link peek} returned was sent on `path`. */
  sent(item: TxItem, path: number): void {
    if (this.resend[0] === item) this.resend.shift();
    else if (this.items[this.fresh] === item) this.fresh++;
    else throw new RangeError('sent() for an item that is not the next one');
    item.path = path;
    if (item.sends === 0) this.sentCharge += chunkCharge(item.len);
    item.sends++;
    if (item.off + item.len > this.sentEnd) this.sentEnd = item.off + item.len;
  }

  /** Cumulative acknowledgement; returns the bytes freed. Throws if the offset was never sent or splits an item. */
  ack(offset: number): number {
    if (offset <= this.acked) return 0;
    if (offset > this.sentEnd) throw new RelayProtocolError(`ACK for offset ${offset} beyond what was sent (${this.sentEnd})`);
    let i = this.head;
    while (i < this.items.length && this.items[i]!.off + this.items[i]!.len <= offset) i++;
    const boundary = i < this.items.length ? this.items[i]!.off : this.end;
    if (boundary !== offset) throw new RelayProtocolError(`ACK offset ${offset} is not a chunk boundary`);
    const freed = offset - this.acked;
    for (let k = this.head; k < i; k++) {
      this.sentCharge -= chunkCharge(this.items[k]!.len);
      this.items[k] = undefined as unknown as TxItem;
    }
    this.head = i;
    if (this.fresh < i) this.fresh = i;
    this.acked = offset;
    if (this.head > 256 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.fresh -= this.head;
      this.head = 0;
    }
    return freed;
  }

  /** Take back every unacknowledged item last sent on `path`; returns how many. */
  pathFailed(path: number): number {
    let n = 0;
    for (let k = this.head; k < this.fresh; k++) {
      const it = this.items[k]!;
      if (it.path === path) {
        it.path = -1;
        this.resend.push(it);
        n++;
      }
    }
    if (n > 0) this.resend.sort((a, b) => a.off - b.off);
    return n;
  }

  /** Unacknowledged items last sent on `path` (for status and tests). */
  inFlightOn(path: number): number {
    let n = 0;
    for (let k = this.head; k < this.fresh; k++) if (this.items[k]!.path === path) n++;
    return n;
  }
}
