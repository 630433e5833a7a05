/**
 * Record protection: ChaCha20-Poly1305 (Node's crypto, i.e. OpenSSL) with one key per direction per
 * path connection and an implicit nonce = 4 zero bytes ‖ u64 record counter. Each side counts the
 * records it seals and the records it opens, so a record that was replayed, reordered, dropped or
 * changed fails authentication, exactly as in TLS 1.3. The 4-byte record header is the associated
 * data. The counter never repeats within a key (2^64 records), and ChaCha20-Poly1305 has no
 * practical per-key volume limit at that count, so there is no rekeying.
 *
 * {@link Sealer.seal} encrypts header and payload pieces into one wire buffer (the chunk itself is
 * read once, by the cipher). {@link Opener.open} throws {@link RelayAuthError} on any failure.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { WanbraidError } from '../../errors.js';
import { RECORD_HEADER_LEN, TAG_LEN, MAX_PLAINTEXT } from './constants.js';

const ALG = 'chacha20-poly1305';

export class RelayAuthError extends WanbraidError {
  constructor(message: string) {
    super('WB_RELAY_AUTH', message);
    this.name = 'RelayAuthError';
  }
}

class Counter {
  private readonly nonce = Buffer.alloc(12);
  private lo = 0;
  private hi = 0;
  /** The nonce for the current count, then advance. */
  next(): Buffer {
    this.nonce.writeUInt32BE(this.hi, 4);
    this.nonce.writeUInt32BE(this.lo, 8);
    if (this.lo === 0xffffffff) {
      this.lo = 0;
      this.hi++;
    } else this.lo++;
    return this.nonce;
  }
  get count(): number {
    return this.hi * 2 ** 32 + this.lo;
  }
}

export class Sealer {
  private readonly ctr = new Counter();
  constructor(private readonly key: Buffer) {}

  /** Records sealed so far. */
  get records(): number {
    return this.ctr.count;
  }

  /** One record: header ‖ ChaCha20(pieces) ‖ tag, as one buffer. */
  seal(pieces: readonly Buffer[]): Buffer {
    let plain = 0;
    for (const p of pieces) plain += p.length;
    if (plain === 0 || plain > MAX_PLAINTEXT) throw new RangeError(`record plaintext of ${plain} bytes`);
    const body = plain + TAG_LEN;
    const out = Buffer.allocUnsafe(RECORD_HEADER_LEN + body);
    out.writeUInt32BE(body, 0);
    const c = createCipheriv(ALG, this.key, this.ctr.next(), { authTagLength: TAG_LEN });
    c.setAAD(out.subarray(0, RECORD_HEADER_LEN), { plaintextLength: plain });
    let p = RECORD_HEADER_LEN;
    for (const piece of pieces) p += c.update(piece).copy(out, p);
    p += c.final().copy(out, p);
    c.getAuthTag().copy(out, p);
    return out;
  }
}

export class Opener {
  private readonly ctr = new Counter();
  private readonly aad = Buffer.alloc(RECORD_HEADER_LEN);
  constructor(private readonly key: Buffer) {}

  get records(): number {
    return this.ctr.count;
  }

  /** Decrypt one record body (ciphertext ‖ tag). */
  open(body: Buffer): Buffer {
    if (body.length <= TAG_LEN) throw new RelayAuthError('record too short to carry a tag');
    const ctLen = body.length - TAG_LEN;
    this.aad.writeUInt32BE(body.length, 0);
    const count = this.ctr.count;
    const d = createDecipheriv(ALG, this.key, this.ctr.next(), { authTagLength: TAG_LEN });
    d.setAAD(this.aad, { plaintextLength: ctLen });
    d.setAuthTag(body.subarray(ctLen));
    const plain = d.update(body.subarray(0, ctLen));
    try {
      d.final();
    } catch {
      throw new RelayAuthError(`record ${count} failed authentication (tampered, replayed, reordered or wrong key)`);
    }
    return plain;
  }
}
