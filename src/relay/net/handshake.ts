/**
 * The path handshake over a socket, both sides (the bytes are specified in
 * docs/relay-protocol.md and built in protocol/handshake.ts):
 *
 *   entry: ClientHello → ← ServerHello; HELLO record → ← WELCOME record
 *   exit:  ← ClientHello (MAC checked with the named key); ServerHello →;
 *          ← HELLO record (authenticates the entry); WELCOME →
 *
 * Each side authenticates the other by the first record it opens: only a holder of the entry's
 * key can produce it, under keys derived from it and both fresh ephemeral keys. The exit answers
 * nothing to a ClientHello that names an unknown key or fails its MAC. Failures throw
 * {@link HandshakeError} with a reason fit for the log; nothing is retried here. State per
 * handshake is fixed: two hellos (at most 120 bytes), one ephemeral key pair, one record.
 */
import type { Socket } from 'node:net';
import { HELLO_HEAD_LEN, ROLE_CLIENT, ROLE_SERVER } from '../protocol/constants.js';
import { deriveSessionKeys, encodeClientHello, encodeServerHello, newEphemeral, openClientHello, parseHelloHead, parseServerHello, type PeerKey } from '../protocol/handshake.js';
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

/** The entry's key: the name it gives in its ClientHello, and the key itself with its MAC key. */
export interface ClientKey extends PeerKey {
  name: string;
}

/** Entry side, on a connected socket. */
export async function clientHandshake(socket: Socket, key: ClientKey, hello: Omit<Hello, 'type'>, timeoutMs: number): Promise<{ conn: PathConn; welcome: Welcome }> {
  const reader = new HandshakeReader(socket, timeoutMs);
  try {
    const eph = newEphemeral();
    const ch = encodeClientHello(key.name, key.macKey, eph.share);
    socket.write(ch);
    let sh: Buffer;
    let serverShare: Buffer;
    try {
      const head = await reader.bytes(HELLO_HEAD_LEN);
      const rest = parseHelloHead(head, ROLE_SERVER);
      sh = Buffer.concat([head, await reader.bytes(rest)]);
      serverShare = parseServerHello(sh);
    } catch (err) {
      if (err instanceof HandshakeError && /closed by the peer/.test(err.message))
        throw new HandshakeError(`${err.message}: the exit refused our hello (unknown key name "${key.name}" or wrong key?)`, { cause: err });
      if (err instanceof HandshakeError) throw err;
      throw new HandshakeError(`bad hello from the exit: ${(err as Error).message}`, { cause: err });
    }
    let keys;
    try {
      keys = deriveSessionKeys(key.psk, eph.privateKey, serverShare, ch, sh);
    } catch (err) {
      throw new HandshakeError(`bad hello from the exit: ${(err as Error).message}`, { cause: err });
    }
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

/**
 * Exit side, on an accepted socket; `lookup` gives the key of a key name (undefined: unknown). The
 * caller answers with {@link sendWelcome} once it has found the session.
 */
export async function serverHandshake(
  socket: Socket,
  lookup: (keyName: string) => PeerKey | undefined,
  timeoutMs: number,
): Promise<{ hello: Hello; keyName: string; key: PeerKey; sealer: Sealer; finish: () => PathConn }> {
  const reader = new HandshakeReader(socket, timeoutMs);
  let ok = false;
  try {
    let ch: Buffer;
    let client;
    try {
      const head = await reader.bytes(HELLO_HEAD_LEN);
      ch = Buffer.concat([head, await reader.bytes(parseHelloHead(head, ROLE_CLIENT))]);
      client = openClientHello(ch, lookup);
    } catch (err) {
      if (err instanceof HandshakeError) throw err;
      throw new HandshakeError(`bad client hello: ${(err as Error).message}`, { cause: err });
    }
    const eph = newEphemeral();
    const sh = encodeServerHello(eph.share);
    let keys;
    try {
      keys = deriveSessionKeys(client.key.psk, eph.privateKey, client.share, ch, sh);
    } catch (err) {
      throw new HandshakeError(`bad client hello: ${(err as Error).message}`, { cause: err });
    }
    socket.write(sh);
    const opener = new Opener(keys.clientToServer);
    const sealer = new Sealer(keys.serverToClient);
    const body = await reader.record();
    let plain: Buffer;
    try {
      plain = opener.open(body);
    } catch (err) {
      throw new HandshakeError(`the first record failed authentication (key "${client.keyName}": a replayed or forged connection)`, { cause: err });
    }
    const hello = single(plain, 'HELLO', 'the entry');
    ok = true;
    return { hello, keyName: client.keyName, key: client.key, sealer, finish: () => new PathConn(socket, sealer, opener, reader.detach()) };
  } finally {
    if (!ok) reader.detach();
  }
}

/** The exit's first record. */
export function sendWelcome(socket: Socket, sealer: Sealer, w: Omit<Welcome, 'type'>): void {
  socket.write(sealer.seal([encodeFrames([{ type: 'WELCOME', ...w }])]));
}
