/**
 * The path handshake and key schedule (pure, randoms passed in):
 *
 *   client → server  ClientHello: "WBRL" version role=0 0 0 random_c[32]   (40 bytes, plaintext)
 *   server → client  ServerHello: "WBRL" version role=1 0 0 random_s[32]   (40 bytes, plaintext)
 *   keys = HKDF-SHA256(ikm = shared key, salt = ClientHello ‖ ServerHello,
 *                      info = "wanbraid relay v1 keys", 64 bytes)
 *   client→server key = keys[0..32), server→client key = keys[32..64)
 *
 * Both hellos are bound into the keys, so a changed byte in either makes the first encrypted
 * record fail authentication. The server's fresh random makes every connection's keys new, so
 * records recorded from one connection never authenticate on another (replay).
 */
import { hkdfSync } from 'node:crypto';
import { HELLO_LEN, MAGIC, PROTOCOL_VERSION, RANDOM_LEN, ROLE_CLIENT, ROLE_SERVER } from './constants.js';
import { RelayProtocolError } from './frames.js';

export const KEY_LEN = 32;
const INFO = Buffer.from('wanbraid relay v1 keys', 'ascii');

export function encodeHello(role: typeof ROLE_CLIENT | typeof ROLE_SERVER, random: Buffer, version: number = PROTOCOL_VERSION): Buffer {
  if (random.length !== RANDOM_LEN) throw new RangeError(`hello random must be ${RANDOM_LEN} bytes`);
  const b = Buffer.alloc(HELLO_LEN);
  MAGIC.copy(b, 0);
  b[4] = version;
  b[5] = role;
  random.copy(b, 8);
  return b;
}

export interface Hello {
  version: number;
  role: number;
  random: Buffer;
}

/** Parse a 40-byte hello; throws {@link RelayProtocolError} naming what was wrong. */
export function parseHello(b: Buffer, expectRole: number): Hello {
  if (b.length !== HELLO_LEN) throw new RelayProtocolError(`hello of ${b.length} bytes, expected ${HELLO_LEN}`);
  if (!b.subarray(0, 4).equals(MAGIC)) throw new RelayProtocolError('not a wanbraid relay peer (bad magic)');
  const version = b[4]!;
  if (version !== PROTOCOL_VERSION) throw new RelayProtocolError(`peer speaks relay protocol version ${version}, this side ${PROTOCOL_VERSION}`);
  const role = b[5]!;
  if (role !== expectRole) throw new RelayProtocolError(`hello from a ${role === ROLE_CLIENT ? 'client' : role === ROLE_SERVER ? 'server' : `role ${role}`} where a ${expectRole === ROLE_CLIENT ? 'client' : 'server'} was expected`);
  return { version, role, random: Buffer.from(b.subarray(8, 8 + RANDOM_LEN)) };
}

export interface SessionKeys {
  clientToServer: Buffer;
  serverToClient: Buffer;
}

export function deriveKeys(sharedKey: Buffer, clientHello: Buffer, serverHello: Buffer): SessionKeys {
  if (sharedKey.length !== KEY_LEN) throw new RangeError(`shared key must be ${KEY_LEN} bytes`);
  const okm = Buffer.from(hkdfSync('sha256', sharedKey, Buffer.concat([clientHello, serverHello]), INFO, 2 * KEY_LEN));
  return { clientToServer: okm.subarray(0, KEY_LEN), serverToClient: okm.subarray(KEY_LEN) };
}
