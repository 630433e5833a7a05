/**
 * Frames: the plaintext inside one record is one or more frames back to back (layouts in
 * docs/relay-protocol.md). {@link encodeFrames} and {@link parseFrames} are pure; a DATA frame's
 * payload is a view into the decrypted record (no copy), and {@link encodeDataHeader} lets the
 * sender encrypt a chunk without first copying it behind its header.
 *
 * Any malformed frame makes {@link parseFrames} throw a {@link RelayProtocolError}; the caller
 * drops the whole path (the record authenticated, so the peer itself is broken).
 */
import { WanbraidError } from '../../errors.js';
import { bytesToIp, ipToBytes } from './addr.js';
import { DATA_HEADER_LEN, FrameType, INCARNATION_LEN, MAX_CHUNK, MAX_NAME_LEN, SESSION_ID_LEN } from './constants.js';

/** A target as the OPEN frame carries it. */
export interface Target {
  host: string;
  port: number;
  family: 4 | 6;
}

export type Frame =
  /** Keep the path alive and ask for a PATH_ACK (liveness and RTT). */
  | { type: 'PING' }
  /**
   * Total bytes of records received on this path connection so far, and the receiver's clock when
   * it handled the newest of them (ms, modulo 2^32; only differences matter: one-way delay variation).
   */
  | { type: 'PATH_ACK'; received: number; time: number }
  /** First record from the entry: which session and path slot this connection is, and the entry's per-flow receive window (bytes). */
  | { type: 'HELLO'; session: Buffer; slot: number; window: number; name: string }
  /** First record from the exit: its session incarnation and per-flow receive window (bytes). */
  | { type: 'WELCOME'; incarnation: Buffer; window: number }
  /** The sender is closing this path on purpose (reason code): resend its data elsewhere now. */
  | { type: 'GOAWAY'; reason: number }
  /** Entry → exit: open flow `flow` to the target. */
  | { type: 'OPEN'; flow: number; target: Target }
  /** Exit → entry: the target is connected; data may flow. */
  | { type: 'OPENED'; flow: number }
  /** Bytes [offset, offset + data.length) of the sender's stream of flow `flow`. */
  | { type: 'DATA'; flow: number; offset: number; data: Buffer }
  /** The sender's stream of `flow` ends at `offset` (FIN occupies one unit of the offset space). */
  | { type: 'FIN'; flow: number; offset: number }
  /** Everything of the peer's stream of `flow` before `offset` has been delivered here. */
  | { type: 'ACK'; flow: number; offset: number }
  /** Abort `flow` (both directions) with a reason code. */
  | { type: 'RST'; flow: number; reason: number };

export class RelayProtocolError extends WanbraidError {
  constructor(message: string) {
    super('WB_RELAY_PROTOCOL', message);
    this.name = 'RelayProtocolError';
  }
}

/** Frames that oblige the receiver to answer with a PATH_ACK (ACK, PATH_ACK do not, so acks never ping-pong). */
export function isEliciting(f: Frame): boolean {
  return f.type !== 'ACK' && f.type !== 'PATH_ACK';
}

function frameSize(f: Frame): number {
  switch (f.type) {
    case 'PING':
      return 1;
    case 'PATH_ACK':
      return 11;
    case 'HELLO':
      return 1 + SESSION_ID_LEN + 2 + 4 + 1 + Buffer.byteLength(f.name);
    case 'WELCOME':
      return 1 + INCARNATION_LEN + 4;
    case 'GOAWAY':
      return 2;
    case 'OPEN':
      return 1 + 4 + 1 + (f.target.family === 4 ? 4 : 16) + 2;
    case 'OPENED':
      return 5;
    case 'DATA':
      return DATA_HEADER_LEN + f.data.length;
    case 'FIN':
    case 'ACK':
      return 11;
    case 'RST':
      return 6;
  }
}

/** Encode frames into one plaintext buffer. */
export function encodeFrames(frames: readonly Frame[]): Buffer {
  let total = 0;
  for (const f of frames) total += frameSize(f);
  const b = Buffer.allocUnsafe(total);
  let p = 0;
  for (const f of frames) p = writeFrame(b, p, f);
  return b;
}

/** Size of one frame once encoded (bytes). */
export { frameSize };

function writeFrame(b: Buffer, p: number, f: Frame): number {
  b[p++] = FrameType[f.type];
  switch (f.type) {
    case 'PING':
      return p;
    case 'PATH_ACK':
      b.writeUIntBE(f.received, p, 6);
      b.writeUInt32BE(f.time >>> 0, p + 6);
      return p + 10;
    case 'HELLO': {
      if (f.session.length !== SESSION_ID_LEN) throw new RangeError('session id must be 16 bytes');
      const name = Buffer.from(f.name, 'utf8');
      if (name.length > MAX_NAME_LEN) throw new RangeError(`path name longer than ${MAX_NAME_LEN} bytes`);
      f.session.copy(b, p);
      p += SESSION_ID_LEN;
      b.writeUInt16BE(f.slot, p);
      b.writeUInt32BE(f.window, p + 2);
      b[p + 6] = name.length;
      name.copy(b, p + 7);
      return p + 7 + name.length;
    }
    case 'WELCOME':
      if (f.incarnation.length !== INCARNATION_LEN) throw new RangeError('incarnation must be 8 bytes');
      f.incarnation.copy(b, p);
      b.writeUInt32BE(f.window, p + INCARNATION_LEN);
      return p + INCARNATION_LEN + 4;
    case 'GOAWAY':
      b[p] = f.reason;
      return p + 1;
    case 'OPEN': {
      b.writeUInt32BE(f.flow, p);
      const a = ipToBytes(f.target.host);
      if (!a || a.length !== (f.target.family === 4 ? 4 : 16)) throw new RangeError(`bad target address ${f.target.host}`);
      b[p + 4] = f.target.family;
      a.copy(b, p + 5);
      b.writeUInt16BE(f.target.port, p + 5 + a.length);
      return p + 7 + a.length;
    }
    case 'OPENED':
      b.writeUInt32BE(f.flow, p);
      return p + 4;
    case 'DATA':
      writeDataFields(b, p, f.flow, f.offset, f.data.length);
      f.data.copy(b, p + DATA_HEADER_LEN - 1);
      return p + DATA_HEADER_LEN - 1 + f.data.length;
    case 'FIN':
    case 'ACK':
      b.writeUInt32BE(f.flow, p);
      b.writeUIntBE(f.offset, p + 4, 6);
      return p + 10;
    case 'RST':
      b.writeUInt32BE(f.flow, p);
      b[p + 4] = f.reason;
      return p + 5;
  }
}

function writeDataFields(b: Buffer, p: number, flow: number, offset: number, len: number): void {
  if (len > MAX_CHUNK) throw new RangeError(`chunk of ${len} bytes exceeds ${MAX_CHUNK}`);
  b.writeUInt32BE(flow, p);
  b.writeUIntBE(offset, p + 4, 6);
  b.writeUInt16BE(len, p + 10);
}

/** The 13-byte header of a DATA frame whose payload follows it in the same record. */
export function encodeDataHeader(flow: number, offset: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(DATA_HEADER_LEN);
  b[0] = FrameType.DATA;
  writeDataFields(b, 1, flow, offset, len);
  return b;
}

/** Decode every frame of one record's plaintext. Throws {@link RelayProtocolError} on anything malformed. */
export function parseFrames(b: Buffer): Frame[] {
  const out: Frame[] = [];
  let p = 0;
  const need = (n: number, what: string) => {
    if (p + n > b.length) throw new RelayProtocolError(`truncated ${what} frame (${b.length - p} of ${n} bytes)`);
  };
  while (p < b.length) {
    const t = b[p++]!;
    switch (t) {
      case FrameType.PING:
        out.push({ type: 'PING' });
        break;
      case FrameType.PATH_ACK:
        need(10, 'PATH_ACK');
        out.push({ type: 'PATH_ACK', received: b.readUIntBE(p, 6), time: b.readUInt32BE(p + 6) });
        p += 10;
        break;
      case FrameType.HELLO: {
        need(SESSION_ID_LEN + 7, 'HELLO');
        const session = Buffer.from(b.subarray(p, p + SESSION_ID_LEN));
        const slot = b.readUInt16BE(p + SESSION_ID_LEN);
        const window = b.readUInt32BE(p + SESSION_ID_LEN + 2);
        const nl = b[p + SESSION_ID_LEN + 6]!;
        p += SESSION_ID_LEN + 7;
        if (nl > MAX_NAME_LEN) throw new RelayProtocolError(`HELLO name of ${nl} bytes exceeds ${MAX_NAME_LEN}`);
        need(nl, 'HELLO');
        const name = b.toString('utf8', p, p + nl);
        p += nl;
        out.push({ type: 'HELLO', session, slot, window, name });
        break;
      }
      case FrameType.WELCOME:
        need(INCARNATION_LEN + 4, 'WELCOME');
        out.push({ type: 'WELCOME', incarnation: Buffer.from(b.subarray(p, p + INCARNATION_LEN)), window: b.readUInt32BE(p + INCARNATION_LEN) });
        p += INCARNATION_LEN + 4;
        break;
      case FrameType.GOAWAY:
        need(1, 'GOAWAY');
        out.push({ type: 'GOAWAY', reason: b[p++]! });
        break;
      case FrameType.OPEN: {
        need(5, 'OPEN');
        const flow = b.readUInt32BE(p);
        const family = b[p + 4];
        if (family !== 4 && family !== 6) throw new RelayProtocolError(`OPEN with address family ${family}`);
        const alen = family === 4 ? 4 : 16;
        p += 5;
        need(alen + 2, 'OPEN');
        const host = bytesToIp(b.subarray(p, p + alen));
        const port = b.readUInt16BE(p + alen);
        p += alen + 2;
        out.push({ type: 'OPEN', flow, target: { host, port, family } });
        break;
      }
      case FrameType.OPENED:
        need(4, 'OPENED');
        out.push({ type: 'OPENED', flow: b.readUInt32BE(p) });
        p += 4;
        break;
      case FrameType.DATA: {
        need(DATA_HEADER_LEN - 1, 'DATA');
        const flow = b.readUInt32BE(p);
        const offset = b.readUIntBE(p + 4, 6);
        const len = b.readUInt16BE(p + 10);
        p += DATA_HEADER_LEN - 1;
        need(len, 'DATA');
        if (len === 0) throw new RelayProtocolError('DATA frame with an empty payload');
        out.push({ type: 'DATA', flow, offset, data: b.subarray(p, p + len) });
        p += len;
        break;
      }
      case FrameType.FIN:
      case FrameType.ACK: {
        const name = t === FrameType.FIN ? 'FIN' : 'ACK';
        need(10, name);
        out.push({ type: name, flow: b.readUInt32BE(p), offset: b.readUIntBE(p + 4, 6) });
        p += 10;
        break;
      }
      case FrameType.RST:
        need(5, 'RST');
        out.push({ type: 'RST', flow: b.readUInt32BE(p), reason: b[p + 4]! });
        p += 5;
        break;
      default:
        throw new RelayProtocolError(`unknown frame type 0x${t.toString(16).padStart(2, '0')}`);
    }
  }
  return out;
}
