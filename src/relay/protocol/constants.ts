/**
 * Wire constants of the relay protocol, version 2 (docs/relay-protocol.md is the specification).
 * Every multi-byte integer on the wire is big-endian. Offsets and byte counts are 48-bit unsigned
 * integers (exact in a JS number). Nothing here has behaviour.
 */

/** First four bytes of both hellos: "WBRL". */
export const MAGIC = Buffer.from('WBRL', 'ascii');
/** Version 2: ephemeral X25519 and per-entry keys (version 1 derived keys from the shared key alone). */
export const PROTOCOL_VERSION = 2;
/** The fixed head of both hellos: magic(4) version(1) role(1) name length or 0 (1) reserved(1). */
export const HELLO_HEAD_LEN = 8;
/** An X25519 public key (the hellos' key shares). */
export const KEY_SHARE_LEN = 32;
/** Truncated HMAC-SHA256 that ends a ClientHello. */
export const HELLO_MAC_LEN = 16;
/** ServerHello: head(8) key share(32). */
export const SERVER_HELLO_LEN = HELLO_HEAD_LEN + KEY_SHARE_LEN;
/** Longest key name a ClientHello may carry (config names are at most 31 characters). */
export const MAX_KEY_NAME_LEN = 64;
export const ROLE_CLIENT = 0;
export const ROLE_SERVER = 1;

/** Record header: the length of what follows (ciphertext and tag), u32. */
export const RECORD_HEADER_LEN = 4;
export const TAG_LEN = 16;
/** Largest plaintext of one record: a DATA frame of a 65535-byte chunk plus its header, with room to spare. */
export const MAX_PLAINTEXT = 65_600;
/** Largest value of the record length field (ciphertext + tag). Anything above is a protocol error. */
export const MAX_RECORD_BODY = MAX_PLAINTEXT + TAG_LEN;
/** Control records are cut at this plaintext size (many ACK frames after a path failure). */
export const CONTROL_RECORD_TARGET = 16 * 1024;

/** Session id chosen by the entry (random), incarnation chosen by the exit (random). */
export const SESSION_ID_LEN = 16;
export const INCARNATION_LEN = 8;
export const MAX_NAME_LEN = 64;

/** Frame type byte. */
export const FrameType = {
  PING: 0x01,
  PATH_ACK: 0x02,
  HELLO: 0x03,
  WELCOME: 0x04,
  GOAWAY: 0x05,
  OPEN: 0x10,
  OPENED: 0x11,
  DATA: 0x12,
  FIN: 0x13,
  ACK: 0x14,
  RST: 0x15,
  TEST: 0x16,
} as const;
export type FrameTypeName = keyof typeof FrameType;

/** DATA header: type(1) flow(4) offset(6) length(2). */
export const DATA_HEADER_LEN = 13;
export const MAX_CHUNK = 0xffff;

/** TEST frame direction byte: the exit sends a generated stream (download) or counts one (upload). */
export const TestDirection = { down: 1, up: 2 } as const;

/** Why a flow was reset (RST) or a path closed (GOAWAY). */
export const Reason = {
  /** The application on the other side reset its connection, or the relay gave up on it. */
  RESET: 0,
  /** The exit's allow-list does not permit the target. */
  NOT_ALLOWED: 1,
  /** The target refused the connection (ECONNREFUSED). */
  CONNECT_REFUSED: 2,
  /** The target could not be reached (no route, timeout). */
  UNREACHABLE: 3,
  /** The peer broke the protocol for this flow (window overrun, bad offsets). */
  PROTOCOL: 4,
  /** The flow id is not known here (closed long ago, or never opened). */
  UNKNOWN_FLOW: 5,
  /** The relay is stopping or reloading. */
  SHUTDOWN: 6,
  /** The exit could not learn or accept the target (transparent entry without an original destination). */
  NO_TARGET: 7,
  /** The flow waited too long for an answer. */
  TIMEOUT: 8,
  /** The receiver's limits refuse it (too many flows in the session). */
  LIMIT: 9,
} as const;
export type ReasonCode = (typeof Reason)[keyof typeof Reason];

const REASON_NAMES: Record<number, string> = {
  0: 'reset',
  1: 'not-allowed',
  2: 'connect-refused',
  3: 'unreachable',
  4: 'protocol',
  5: 'unknown-flow',
  6: 'shutdown',
  7: 'no-target',
  8: 'timeout',
  9: 'limit',
};

export function reasonName(code: number): string {
  return REASON_NAMES[code] ?? `reason-${code}`;
}
