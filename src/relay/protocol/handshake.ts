/**
 * The path handshake and key schedule, protocol version 2 (pure; the ephemeral key pairs are
 * passed in, so tests can fix them). docs/relay-protocol.md §1 is the specification:
 *
 *   entry → exit  ClientHello: "WBRL" 2 role=0 n 0 ‖ E_c[32] ‖ keyName[n] ‖ mac[16]
 *                 mac = HMAC-SHA256(MK, everything before it)[0..16), MK = HKDF(K, "…hello mac")
 *   exit → entry  ServerHello: "WBRL" 2 role=1 0 0 ‖ E_s[32]
 *   both          th  = SHA-256(ClientHello ‖ ServerHello)
 *                 dh  = X25519(e_c, E_s) = X25519(e_s, E_c)
 *                 okm = HKDF-SHA256(ikm = dh ‖ K, salt = th, info = "wanbraid relay v2 keys", 64)
 *                 client→server = okm[0..32), server→client = okm[32..64)
 *
 * K is the pre-shared key the exit holds for `keyName` (one per entry). Properties:
 * - forward secrecy: the session keys need dh, i.e. one of the two ephemeral private keys, which
 *   exist only in memory for one handshake; K plus a recording of the connection does not give them;
 * - mutual authentication by K: both K and dh go into the keys, so only a holder of K can open or
 *   produce the first record (HELLO, WELCOME), and a holder of another entry's key cannot pose as
 *   the exit to this entry (or as this entry to the exit);
 * - binding: th covers both key shares, the key name and the version, so a changed hello byte
 *   fails the first record; the exit's fresh ephemeral makes a replayed ClientHello worthless
 *   (the replayer lacks e_c, so it cannot compute dh, so it cannot produce the HELLO record);
 * - cheap refusal: the ClientHello's MAC (keyed from K) lets the exit drop a peer without the key
 *   before it spends an ephemeral key or a DH on it. The MAC only proves K; a replayed ClientHello
 *   passes it, and earns nothing usable (above).
 * Nothing here allocates in proportion to peer input: a ClientHello is at most 120 bytes.
 */
import { createHash, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { HELLO_HEAD_LEN, HELLO_MAC_LEN, KEY_SHARE_LEN, MAGIC, MAX_KEY_NAME_LEN, PROTOCOL_VERSION, ROLE_CLIENT, ROLE_SERVER, SERVER_HELLO_LEN } from './constants.js';
import { RelayProtocolError } from './frames.js';
import { RelayAuthError } from './aead.js';

/** Pre-shared keys and session keys are 32 bytes. */
export const KEY_LEN = 32;
const KEYS_INFO = Buffer.from('wanbraid relay v2 keys', 'ascii');
const MAC_INFO = Buffer.from('wanbraid relay v2 hello mac', 'ascii');
/** DER SubjectPublicKeyInfo prefix of an X25519 key (RFC 8410); the raw key follows. */
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const KEY_NAME = /^[A-Za-z0-9_-]+$/;

/** One side's ephemeral X25519 key pair, used for one handshake and then dropped. */
export interface Ephemeral {
  privateKey: KeyObject;
  /** The raw 32-byte public key (the key share sent in the hello). */
  share: Buffer;
}

export function newEphemeral(): Ephemeral {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, share: publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_X25519.length) };
}

/** The key that MACs a ClientHello: HKDF-SHA256(ikm = K, salt = "", info = "wanbraid relay v2 hello mac"). */
export function helloMacKey(psk: Buffer): Buffer {
  if (psk.length !== KEY_LEN) throw new RangeError(`pre-shared key must be ${KEY_LEN} bytes`);
  return Buffer.from(hkdfSync('sha256', psk, Buffer.alloc(0), MAC_INFO, KEY_LEN));
}

function helloMac(macKey: Buffer, covered: Buffer): Buffer {
  return createHmac('sha256', macKey).update(covered).digest().subarray(0, HELLO_MAC_LEN);
}

function head(role: number, nameLen: number, version: number): Buffer {
  const b = Buffer.alloc(HELLO_HEAD_LEN);
  MAGIC.copy(b, 0);
  b[4] = version;
  b[5] = role;
  b[6] = nameLen;
  return b;
}

/** A ClientHello for `keyName`, MACed with the key's MAC key (see {@link helloMacKey}). */
export function encodeClientHello(keyName: string, macKey: Buffer, share: Buffer, version: number = PROTOCOL_VERSION): Buffer {
  const name = Buffer.from(keyName, 'ascii');
  if (!KEY_NAME.test(keyName) || name.length > MAX_KEY_NAME_LEN) throw new RangeError(`key name "${keyName}" must be 1-${MAX_KEY_NAME_LEN} of A-Z a-z 0-9 _ -`);
  if (share.length !== KEY_SHARE_LEN) throw new RangeError(`key share must be ${KEY_SHARE_LEN} bytes`);
  const covered = Buffer.concat([head(ROLE_CLIENT, name.length, version), share, name]);
  return Buffer.concat([covered, helloMac(macKey, covered)]);
}

export function encodeServerHello(share: Buffer, version: number = PROTOCOL_VERSION): Buffer {
  if (share.length !== KEY_SHARE_LEN) throw new RangeError(`key share must be ${KEY_SHARE_LEN} bytes`);
  return Buffer.concat([head(ROLE_SERVER, 0, version), share]);
}

const roleName = (r: number) => (r === ROLE_CLIENT ? 'client' : r === ROLE_SERVER ? 'server' : `role ${r}`);

/**
 * Check the 8-byte head of a hello and return how many bytes of the hello follow it. Throws
 * {@link RelayProtocolError} naming what was wrong (magic, version, role, name length).
 */
export function parseHelloHead(b: Buffer, expectRole: typeof ROLE_CLIENT | typeof ROLE_SERVER): number {
  if (b.length !== HELLO_HEAD_LEN) throw new RelayProtocolError(`hello head of ${b.length} bytes, expected ${HELLO_HEAD_LEN}`);
  if (!b.subarray(0, 4).equals(MAGIC)) throw new RelayProtocolError('not a wanbraid relay peer (bad magic)');
  const version = b[4]!;
  if (version !== PROTOCOL_VERSION) throw new RelayProtocolError(`peer speaks relay protocol version ${version}, this side ${PROTOCOL_VERSION}`);
  const role = b[5]!;
  if (role !== expectRole) throw new RelayProtocolError(`hello from a ${roleName(role)} where a ${roleName(expectRole)} was expected`);
  const n = b[6]!;
  if (role === ROLE_SERVER) {
    if (n !== 0) throw new RelayProtocolError(`server hello with a key name length of ${n}`);
    return KEY_SHARE_LEN;
  }
  if (n === 0 || n > MAX_KEY_NAME_LEN) throw new RelayProtocolError(`client hello with a key name length of ${n} (1-${MAX_KEY_NAME_LEN})`);
  return KEY_SHARE_LEN + n + HELLO_MAC_LEN;
}

/** What the exit holds for one key name. */
export interface PeerKey {
  psk: Buffer;
  /** {@link helloMacKey} of psk, computed once. */
  macKey: Buffer;
}

export interface ClientHello {
  keyName: string;
  share: Buffer;
}

/**
 * Parse a whole ClientHello and authenticate it with the key `lookup` gives for its key name. An
 * unknown name and a wrong MAC both throw {@link RelayAuthError} (the exit treats them alike: it
 * closes without answering); a malformed hello throws {@link RelayProtocolError}.
 */
export function openClientHello(b: Buffer, lookup: (keyName: string) => PeerKey | undefined): ClientHello & { key: PeerKey } {
  const rest = parseHelloHead(b.subarray(0, HELLO_HEAD_LEN), ROLE_CLIENT);
  if (b.length !== HELLO_HEAD_LEN + rest) throw new RelayProtocolError(`client hello of ${b.length} bytes, expected ${HELLO_HEAD_LEN + rest}`);
  const n = b[6]!;
  const share = Buffer.from(b.subarray(HELLO_HEAD_LEN, HELLO_HEAD_LEN + KEY_SHARE_LEN));
  const nameBytes = b.subarray(HELLO_HEAD_LEN + KEY_SHARE_LEN, HELLO_HEAD_LEN + KEY_SHARE_LEN + n);
  const keyName = nameBytes.toString('latin1');
  if (!KEY_NAME.test(keyName)) throw new RelayProtocolError('client hello with a key name outside A-Z a-z 0-9 _ -');
  const key = lookup(keyName);
  if (!key) throw new RelayAuthError(`client hello names an unknown key "${keyName}"`);
  const covered = b.subarray(0, b.length - HELLO_MAC_LEN);
  if (!timingSafeEqual(helloMac(key.macKey, covered), b.subarray(b.length - HELLO_MAC_LEN)))
    throw new RelayAuthError(`client hello for key "${keyName}" failed authentication (the entry's key differs from ours)`);
  return { keyName, share, key };
}

/** The server's key share, from a whole ServerHello (throws {@link RelayProtocolError}). */
export function parseServerHello(b: Buffer): Buffer {
  if (b.length !== SERVER_HELLO_LEN) throw new RelayProtocolError(`server hello of ${b.length} bytes, expected ${SERVER_HELLO_LEN}`);
  parseHelloHead(b.subarray(0, HELLO_HEAD_LEN), ROLE_SERVER);
  return Buffer.from(b.subarray(HELLO_HEAD_LEN));
}

export interface SessionKeys {
  clientToServer: Buffer;
  serverToClient: Buffer;
}

/** X25519 of our ephemeral private key and the peer's share; a low-order share (all-zero result) throws. */
export function sharedSecret(own: KeyObject, peerShare: Buffer): Buffer {
  if (peerShare.length !== KEY_SHARE_LEN) throw new RelayProtocolError(`key share of ${peerShare.length} bytes`);
  let dh: Buffer;
  try {
    dh = diffieHellman({ privateKey: own, publicKey: createPublicKey({ key: Buffer.concat([SPKI_X25519, peerShare]), format: 'der', type: 'spki' }) });
  } catch (err) {
    throw new RelayAuthError(`the peer's key share is unusable (${(err as Error).message})`);
  }
  if (dh.every((x) => x === 0)) throw new RelayAuthError("the peer's key share is a low-order point");
  return dh;
}

/**
 * The session keys of one path connection (both sides call this with their own ephemeral private
 * key and the other's share; the hellos are the exact bytes sent and received).
 */
export function deriveSessionKeys(psk: Buffer, own: KeyObject, peerShare: Buffer, clientHello: Buffer, serverHello: Buffer): SessionKeys {
  if (psk.length !== KEY_LEN) throw new RangeError(`pre-shared key must be ${KEY_LEN} bytes`);
  const dh = sharedSecret(own, peerShare);
  const th = createHash('sha256').update(clientHello).update(serverHello).digest();
  const okm = Buffer.from(hkdfSync('sha256', Buffer.concat([dh, psk]), th, KEYS_INFO, 2 * KEY_LEN));
  dh.fill(0);
  return { clientToServer: okm.subarray(0, KEY_LEN), serverToClient: okm.subarray(KEY_LEN) };
}
