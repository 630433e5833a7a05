/**
 * The test client itself (helpers.ts `client`), over loopback: the relay tests judge "the flow was
 * reset" by its `error`, so it must report a TCP reset as ECONNRESET even when the reset arrives
 * behind data the client has not read yet (Node 20's libuv then reports a clean end), and must
 * report a FIN as a clean end (the positive control).
 *
 *   client() ──► server: 5 writes of 100 kB, 10 ms apart; with the last, a reset (SO_LINGER 0) or a FIN
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { client } from './helpers.js';

/** Bytes per write, not a multiple of libuv's 64 KiB reads (so reads before the reset are partial). */
const BATCH = 100_000;
const BATCHES = 5;
const SIZE = BATCH * BATCHES;

/** A server for one connection: a batch every 10 ms; with the last one, in the same turn, a reset or FIN. */
async function serveOnce(then: 'reset' | 'fin'): Promise<{ port: number; done: Promise<void> }> {
  const server = net.createServer({ allowHalfOpen: true });
  const done = new Promise<void>((resolve) => {
    server.once('connection', (s) => {
      s.on('error', () => undefined);
      let n = 0;
      const timer = setInterval(() => {
        s.write(Buffer.alloc(BATCH, n));
        if (++n < BATCHES) return;
        clearInterval(timer);
        // The reset or FIN lands behind the batch the client has not read yet.
        if (then === 'reset') s.resetAndDestroy();
        else s.end();
        server.close(() => resolve());
      }, 10);
    });
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  return { port: (server.address() as net.AddressInfo).port, done };
}

test('client(): a reset behind unread data is ECONNRESET, never a clean end', async () => {
  for (let i = 0; i < 5; i++) {
    const { port, done } = await serveOnce('reset');
    // Our side stays open (as in the revocation test), so the reset is the only way to end early.
    const r = await client(port, 0, 1, SIZE, '127.0.0.1', { endAfterMs: 30_000 });
    await done;
    assert.equal(r.error, 'ECONNRESET', `run ${i}: received ${r.received} bytes`);
  }
});

test('client(): a FIN is a clean end with every byte (positive control)', async () => {
  for (let i = 0; i < 3; i++) {
    const { port, done } = await serveOnce('fin');
    const r = await client(port, 0, 1, SIZE, '127.0.0.1', { endAfterMs: 200 });
    await done;
    assert.equal(r.error, undefined, `run ${i}`);
    assert.equal(r.received, SIZE);
  }
});
