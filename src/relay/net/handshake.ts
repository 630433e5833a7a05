/**
 * The path handshake over a socket, both sides (the bytes are specified in
 * docs/relay-protocol.md and built in protocol/handshake.ts):
 *
 *   entry: ClientHello → ← ServerHello; HELLO record → ← WELCOME record
 *   exit:  ← ClientHello; ServerHello →; ← HELLO record (authenticates the entry); WELCOME →
 *
 * Each side authenticates the other by the first record it opens: only a holder of the shared key
 * can produce it under keys derived from both fresh randoms. Failures throw {@link HandshakeError}
 * with a reason fit for the log; nothing is retried here.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { HELLO_LEN, RANDOM_LEN, ROLE_CLIENT, ROLE_SERVER } from '../protocol/constants.js';
import { deriveKeys, encodeHello, parseHello } from '../protocol/handshake.js';
import { Opener, Sealer } from '../protocol/aead.js';
import { encodeFrames, parseFrames, type Frame } from '../protocol/frames.js';
import { HandshakeError, HandshakeReader } from './reader.js';
import { PathConn } from './path-conn.js';

type Hello = Extract<Frame, { type: 'HELLO' }>;
type Welcome = Extract<Frame, { type: 'WELCOME' }>;

function single<T extends Frame['type']>(plain: Buffer, type: T, who: string): Extract<Frame, { type: T }> {
  let frames: Frame[];
  try {
    frames = parseFrames(plain);
  } catch (err) {
    throw new HandshakeError(`${who} sent a malformed first record: ${(err as Error).message}`, { cause: err });
  }
  const f = frames[0];
  if (frames.length !== 1 || f?.type !== type) throw new HandshakeError(`${who} sent ${frames.map((x) => x.type).join('+') || 'nothing'} where ${type} was expected`);
  return f as Extract<Frame, { type: T }>;
}

/** Entry side, on a connected socket. */
export async function clientHandshake(socket: Socket, sharedKey: Buffer, hello: Omit<Hello, 'type'>, timeoutMs: number): Promise<{ conn: PathConn; welcome: Welcome }> {
  const reader = new HandshakeReader(socket, timeoutMs);
  try {
    const ch = encodeHello(ROLE_CLIENT, randomBytes(RANDOM_LEN));
    socket.write(ch);
    let sh: Buffer;
    try {
      sh = await reader.bytes(HELLO_LEN);
      parseHello(sh, ROLE_SERVER);
    } catch (err) {
      if (err instanceof HandshakeError) throw err;
      throw new HandshakeError(`bad hello from the exit: ${(err as Error).message}`, { cause: err });
    }
    const keys = deriveKeys(sharedKey, ch, sh);
    const sealer = new Sealer(keys.clientToServer);
    const opener = new Opener(keys.serverToClient);
    socket.write(sealer.seal([encodeFrames([{ type: 'HELLO', ...hello }])]));
    let body: Buffer;
    try {
      body = await reader.record();
    } catch (err) {
      if (err instanceof HandshakeError && /closed by the peer/.test(err.message))
        throw new HandshakeError(`${err.message}: the exit refused our HELLO (wrong key?)`, { cause: err });
      throw err;
    }
    let plain: Buffer;
    try {
      plain = opener.open(body);
    } catch (err) {
      throw new HandshakeError('the exit failed authentication (its key differs from ours)', { cause: err });
    }
    const welcome = single(plain, 'WELCOME', 'the exit');
    return { conn: new PathConn(socket, sealer, opener, reader.detach()), welcome };
  } finally {
    reader.detach();
  }
}

/** Exit side, on an accepted socket. The caller answers with {@link sendWelcome} once it has found the session. */
export async function serverHandshake(socket: Socket, sharedKey: Buffer, timeoutMs: number): Promise<{ hello: Hello; sealer: Sealer; finish: () => PathConn }> {
  const reader = new HandshakeReader(socket, timeoutMs);
  let ok = false;
  try {
    const ch = await reader.bytes(HELLO_LEN);
    try {
      parseHello(ch, ROLE_CLIENT);
    } catch (err) {
      throw new HandshakeError(`bad client hello: ${(err as Error).message}`, { cause: err });
    }
    const sh = encodeHello(ROLE_SERVER, randomBytes(RANDOM_LEN));
    socket.write(sh);
    const keys = deriveKeys(sharedKey, ch, sh);
    const opener = new Opener(keys.clientToServer);
    const sealer = new Sealer(keys.serverToClient);
    const body = await reader.record();
    let plain: Buffer;
    try {
      plain = opener.open(body);
    } catch (err) {
      throw new HandshakeError('the first record failed authentication (wrong key, or a replayed or forged connection)', { cause: err });
    }
    const hello = single(plain, 'HELLO', 'the entry');
    ok = true;
    return { hello, sealer, finish: () => new PathConn(socket, sealer, opener, reader.detach()) };
  } finally {
    if (!ok) reader.detach();
  }
}

/** The exit's first record. */
export function sendWelcome(socket: Socket, sealer: Sealer, w: Omit<Welcome, 'type'>): void {
  socket.write(sealer.seal([encodeFrames([{ type: 'WELCOME', ...w }])]));
}
