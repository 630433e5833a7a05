/**
 * Both sides of the path handshake over a loopback socket: per-entry keys complete and agree; an
 * unknown key name and a wrong key are refused by the exit without an answer, and the entry says
 * what may be wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { clientHandshake, serverHandshake, sendWelcome, type ClientKey } from '../../../src/relay/net/handshake.js';
import { HandshakeError } from '../../../src/relay/net/reader.js';
import { helloMacKey, type PeerKey } from '../../../src/relay/protocol/handshake.js';

const key = (): PeerKey => {
  const psk = randomBytes(32);
  return { psk, macKey: helloMacKey(psk) };
};
const A = key();
const B = key();
const exitKeys = new Map([['east', A]]);

/** A server running serverHandshake on each connection; `result` resolves with the first outcome. */
async function exit(): Promise<{ port: number; result: Promise<{ keyName: string } | Error>; close(): Promise<void> }> {
  let done!: (r: { keyName: string } | Error) => void;
  const result = new Promise<{ keyName: string } | Error>((r) => (done = r));
  const server = net.createServer((sock) => {
    sock.on('error', () => undefined);
    serverHandshake(sock, (n) => exitKeys.get(n), 3000).then(
      (h) => {
        sendWelcome(sock, h.sealer, { incarnation: Buffer.alloc(8, 7), window: 1000 });
        h.finish();
        done({ keyName: h.keyName });
      },
      (err: Error) => {
        sock.destroy();
        done(err);
      },
    );
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    result,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
      }),
  };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('connect', r));
  return s;
}

const hello = { session: Buffer.alloc(16, 1), slot: 0, window: 1000, name: 'east/p' };

test('an entry with its own key completes the handshake; both sides agree on the key name and the WELCOME', async () => {
  const x = await exit();
  const sock = await connect(x.port);
  const ck: ClientKey = { name: 'east', ...A };
  const { conn, welcome } = await clientHandshake(sock, ck, hello, 3000);
  assert.deepEqual(welcome.incarnation, Buffer.alloc(8, 7));
  assert.deepEqual(await x.result, { keyName: 'east' });
  conn.close('done');
  sock.destroy();
  await x.close();
});

test('an unknown key name and a wrong key are refused by the exit without an answer; the entry says why it may be', async () => {
  for (const [ck, why] of [
    [{ name: 'north', ...A }, /unknown key "north"/],
    [{ name: 'east', ...B }, /key "east" failed authentication/],
  ] as const) {
    const x = await exit();
    const sock = await connect(x.port);
    await assert.rejects(clientHandshake(sock, ck, hello, 3000), (e: unknown) => e instanceof HandshakeError && /after 0 bytes\): the exit refused our hello/.test(e.message));
    const r = await x.result;
    assert.ok(r instanceof Error && why.test(r.message), r instanceof Error ? r.message : JSON.stringify(r));
    sock.destroy();
    await x.close();
  }
});
