/**
 * The exit's connection limits on real sockets over loopback (issue 9 §5), exit in this process:
 *
 *   half-open clients 127.0.0.1, .2, .3 ──┐
 *   real entries (clientHandshake)  .4  ──┴──► exit :X
 *
 * A half-open client sends a valid ClientHello and most of a 64 KiB record, then nothing: it holds
 * a handshake slot until the handshake timeout (60 s here, far beyond the test). Connections beyond
 * the caps (total, per source) are closed at once, unread, and logged once with a summary; the caps
 * on sessions per key and paths per session refuse an authenticated connection the same way.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseConfigText } from '../../../src/config/load.js';
import { RelayExit } from '../../../src/relay/exit.js';
import { ExitKeys, loadKeyFile, peerKey } from '../../../src/relay/key.js';
import { realClock } from '../../../src/relay/core/clock.js';
import { clientHandshake, type ClientKey } from '../../../src/relay/net/handshake.js';
import { encodeClientHello, newEphemeral } from '../../../src/relay/protocol/handshake.js';
import { MAX_RECORD_BODY } from '../../../src/relay/protocol/constants.js';
import { keyFile, tempDir, captureLogger, waitFor, freePort } from './helpers.js';

const dir = tempDir();
const keyPath = keyFile(dir);
// The exit holds one shared key (relay.exit.keyFile): any key name authenticates with it.
const key: ClientKey = { name: 'e', ...peerKey(loadKeyFile(keyPath, 'key')) };
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startExit(tuning: string): Promise<{ exit: RelayExit; port: number; log: ReturnType<typeof captureLogger> }> {
  const port = await freePort();
  const cfg = parseConfigText(`
relay:
  exit: { listen: 127.0.0.1:${port}, keyFile: ${keyPath}, allow: [127.0.0.1:9] }
  tuning: { pathTimeout: 30s, ${tuning} }
`).relay!;
  const log = captureLogger();
  const exit = new RelayExit(cfg.exit!, cfg.tuning, new ExitKeys(new Map(), peerKey(key.psk)), { logger: log.logger, clock: realClock });
  await exit.start();
  cleanups.push(() => exit.stop());
  return { exit, port, log };
}

interface Client {
  sock: net.Socket;
  closed: boolean;
}

/** A client that starts the handshake and stalls inside its first record (about 64 KiB sent). */
function halfOpen(port: number, from: string, all: Client[]): Client {
  const sock = net.connect({ host: '127.0.0.1', port, localAddress: from });
  const c = { sock, closed: false };
  sock.on('error', () => undefined);
  sock.on('close', () => (c.closed = true));
  sock.on('connect', () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_RECORD_BODY, 0);
    // A valid ClientHello (the exit answers it), then a first record that never completes.
    sock.write(Buffer.concat([encodeClientHello(key.name, key.macKey, newEphemeral().share), header, randomBytes(MAX_RECORD_BODY - 1000)]));
  });
  all.push(c);
  cleanups.push(() => void sock.destroy());
  return c;
}

/** A real path handshake as an entry would make it; resolves to the connection or the error. */
async function enter(port: number, session: Buffer, slot: number, from = '127.0.0.4'): Promise<{ sock: net.Socket; error: string | undefined }> {
  const sock = net.connect({ host: '127.0.0.1', port, localAddress: from });
  sock.on('error', () => undefined);
  cleanups.push(() => void sock.destroy());
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  try {
    await clientHandshake(sock, key, { session, slot, window: 1 << 20, name: `e/p${slot}` }, 5000);
    return { sock, error: undefined };
  } catch (err) {
    return { sock, error: (err as Error).message };
  }
}

const REJECT_MSG = 'relay connection rejected: too many connections in the handshake';

test('handshakes are capped per source and in total; the rest are closed unread and logged once', async () => {
  const { exit, port, log } = await startExit('maxHandshakes: 6, maxHandshakesPerSource: 4');
  const clients: Client[] = [];
  for (let i = 0; i < 10; i++) halfOpen(port, '127.0.0.1', clients);
  await waitFor('the exit to take all 10 connections', () => exit.admission.handshaking + exit.admission.busy === 10);
  assert.deepEqual(exit.admission, { handshaking: 4, busy: 6 }, 'per source: 4 held, 6 refused');
  await waitFor('the 6 refused to be closed', () => clients.filter((c) => c.closed).length === 6);
  // Another source gets its own share, up to the total of 6.
  halfOpen(port, '127.0.0.2', clients);
  halfOpen(port, '127.0.0.2', clients);
  await waitFor('two more from .2', () => exit.admission.handshaking === 6);
  halfOpen(port, '127.0.0.3', clients);
  await waitFor('the exit to refuse .3 (total)', () => exit.admission.busy === 7);
  await waitFor('.3 to be closed', () => clients.filter((c) => c.closed).length === 7);
  assert.equal(clients.filter((c) => !c.closed).length, 6, 'the admitted six are still open (waiting in their handshake)');
  // A real entry is refused too while the caps are full...
  const refused = await enter(port, randomBytes(16), 0);
  assert.ok(refused.error, 'a real entry cannot get in while the total is full');
  assert.equal(exit.status().sessions.length, 0);
  // ...and gets in once the half-open connections are gone (positive control: the caps release).
  for (const c of clients) c.sock.destroy();
  await waitFor('the exit to release the slots', () => exit.admission.handshaking === 0);
  const ok = await enter(port, randomBytes(16), 0);
  assert.equal(ok.error, undefined);
  assert.equal(exit.status().sessions.length, 1);
  // 14 rejections (8 over the caps, then the 6 half-open ones failing their handshake when they
  // closed): one line in full, the rest in one summary (written at stop at the latest).
  assert.equal(exit.admission.busy, 8);
  assert.equal(exit.status().rejected, 14);
  assert.equal(log.lines.filter((l) => l.msg === REJECT_MSG).length, 1, 'one line for the caps in full');
  assert.equal(log.lines.filter((l) => l.msg === 'relay connection rejected').length, 0, 'the failed handshakes fall in the same interval: counted, not written');
  await exit.stop();
  const summaries = log.lines.filter((l) => l.msg === 'relay connections rejected: more not logged one by one');
  assert.equal(summaries.length, 1);
  assert.equal(summaries[0]!.suppressed, 13);
});

test('sessions per key and paths per session are capped; an entry whose paths are gone makes room', async () => {
  const { exit, port, log } = await startExit('maxSessionsPerKey: 2, maxPathsPerSession: 2');
  const a = randomBytes(16);
  const b = randomBytes(16);
  const a0 = await enter(port, a, 0);
  const a1 = await enter(port, a, 1);
  assert.equal(a0.error ?? a1.error, undefined);
  assert.ok((await enter(port, a, 2)).error, 'a third path of the session is refused');
  assert.ok(log.has('relay path refused: too many paths in the session'));
  const a1b = await enter(port, a, 1);
  assert.equal(a1b.error, undefined, 'a path that replaces a live slot is accepted');
  assert.equal((await enter(port, b, 0)).error, undefined, 'a second session of the key');
  const c = randomBytes(16);
  assert.ok((await enter(port, c, 0)).error, 'a third session is refused while both have paths');
  assert.ok(log.has('relay session refused: too many sessions for its key'));
  assert.equal(exit.status().sessions.length, 2);
  // Session a loses every path (its entry restarted): the next new session replaces it.
  a0.sock.destroy();
  a1b.sock.destroy();
  const sa = a.toString('hex').slice(0, 8);
  await waitFor('session a to have no path', () => exit.status().sessions.find((s) => s.session === sa)?.paths.length === 0);
  assert.equal((await enter(port, c, 0)).error, undefined, 'a new session takes the place of the idle one');
  assert.deepEqual(exit.status().sessions.map((s) => s.session).sort(), [b, c].map((x) => x.toString('hex').slice(0, 8)).sort());
});
