/**
 * The record layer's framing: `u32 length | body` where body is ciphertext and tag. A pure,
 * incremental decoder: feed it bytes split anywhere, get whole bodies back in order. A body that
 * lies inside one input buffer is returned as a view (no copy); one that spans buffers is copied
 * once. A length outside [TAG_LEN + 1, max] throws {@link RelayProtocolError}: the stream is
 * unrecoverable and the path must be dropped.
 */
import { MAX_RECORD_BODY, RECORD_HEADER_LEN, TAG_LEN } from './constants.js';
import { RelayProtocolError } from './frames.js';

export class RecordDecoder {
  private parts: Buffer[] = [];
  /** Read position in parts[0]. */
  private head = 0;
  /** Bytes available across parts (after head). */
  private avail = 0;
  /** Body length of the record being assembled, or -1 while its header is incomplete. */
  private need = -1;

  constructor(private readonly maxBody: number = MAX_RECORD_BODY) {}

  /** Bytes held waiting for the rest of a record. */
  get buffered(): number {
    return this.avail;
  }

  /** Append bytes; returns every record body completed by them. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (chunk.length === 0) return out;
    this.parts.push(chunk);
    this.avail += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.avail < RECORD_HEADER_LEN) break;
        const len = this.take(RECORD_HEADER_LEN).readUInt32BE(0);
        if (len <= TAG_LEN || len > this.maxBody) throw new RelayProtocolError(`record length ${len} outside ${TAG_LEN + 1}..${this.maxBody}`);
        this.need = len;
      }
      if (this.avail < this.need) break;
      out.push(this.take(this.need));
      this.need = -1;
    }
    return out;
  }

  /** Remove n bytes (n <= avail) from the front. */
  private take(n: number): Buffer {
    const first = this.parts[0]!;
    let out: Buffer;
    if (first.length - this.head >= n) {
      out = first.subarray(this.head, this.head + n);
      this.head += n;
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const p = this.parts[0]!;
        const k = Math.min(n - filled, p.length - this.head);
        p.copy(out, filled, this.head, this.head + k);
        filled += k;
        this.head += k;
        if (this.head === p.length) {
          this.parts.shift();
          this.head = 0;
        }
      }
    }
    if (this.parts.length > 0 && this.head === this.parts[0]!.length) {
      this.parts.shift();
      this.head = 0;
    }
    this.avail -= n;
    return out;
  }
}

/** The 4-byte header for a body of `bodyLen` bytes (it is also the AEAD's associated data). */
export function recordHeader(bodyLen: number): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER_LEN);
  h.writeUInt32BE(bodyLen, 0);
  return h;
}
