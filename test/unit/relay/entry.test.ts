/**
 * The entry's session linger on a simulated clock (no sockets: the engine's paths and flows are
 * fakes): with no path at all for as long as the exit keeps a session without paths, the exit has
 * dropped the session (or refuses us: a revoked key), so the entry resets its flows rather than
 * leave its users waiting forever; a path that comes back in time keeps them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/log.js';
import { RelayEntry, sessionLingerMs } from '../../../src/relay/entry.js';
import type { FlowPort, PathPort } from '../../../src/relay/core/ports.js';
import type { Frame } from '../../../src/relay/protocol/frames.js';
import { SimClock } from './sim.js';

const cfg = parseConfigText(
  'relay:\n  entries:\n    - { name: e, listen: 127.0.0.1:1, target: 127.0.0.1:2, exit: 127.0.0.1:3, keyFile: /k, paths: [{ name: p, via: 127.0.0.1:3 }] }\n  tuning: { retryMax: 10s }\n',
).relay!;

/** A path that acknowledges every record at once (so the engine keeps it up) and keeps the frames. */
class FakePath implements PathPort {
  readonly sent: Frame[] = [];
  private bytes = 0;
  private closed = false;
  ack: (received: number) => void = () => undefined;
  constructor(private readonly clock: SimClock) {}
  private send(): number {
    this.bytes += 40;
    const received = this.bytes;
    this.clock.defer(() => {
      if (!this.closed) this.ack(received);
    });
    return 40;
  }
  sendFrames(frames: readonly Frame[]): number {
    this.sent.push(...frames);
    return this.send();
  }
  sendData(): number {
    return this.send();
  }
  close(): void {
    this.closed = true;
  }
}

class FakeFlow implements FlowPort {
  resets = 0;
  ends = 0;
  write(): boolean {
    return true;
  }
  end(): void {
    this.ends++;
  }
  reset(): void {
    this.resets++;
  }
  pause(): void {}
  resume(): void {}
}

function setup() {
  const clock = new SimClock();
  const entry = new RelayEntry(cfg.entries[0]!, cfg.tuning, { name: 'e', psk: Buffer.alloc(32) } as never, {
    logger: silentLogger(),
    clock,
    links: new Map(),
    originalDst: undefined,
  });
  const user = new FakeFlow();
  const flow = entry.mux.openFlow(user, { host: '127.0.0.1', port: 2, family: 4 });
  const path = (slot: number) => {
    const port = new FakePath(clock);
    const id = entry.mux.addPath(port, { slot, name: `p${slot}` });
    port.ack = (received) => entry.mux.pathRecord(id, [{ type: 'PATH_ACK', received, time: Math.floor(clock.now()) }], 20);
    return { port, id };
  };
  const p = path(0);
  entry.mux.pathRecord(p.id, [{ type: 'OPENED', flow }], 40);
  return { clock, entry, user, flow, p, path };
}

test('entry: no path for the session linger resets every flow (RST owed to the exit), not before', () => {
  const { clock, entry, user, flow, p, path } = setup();
  const linger = sessionLingerMs(cfg.tuning);
  assert.equal(linger, 60_000, '6 × retryMax');
  clock.run(1000);
  entry.mux.pathClosed(p.id, 'exit closed the path (revoked key)');
  const down = clock.now();
  clock.run(down + linger - 1);
  assert.equal(user.resets, 0, 'kept while the exit may still hold the session');
  assert.equal(entry.mux.flowCount, 1);
  clock.run(down + linger + 1);
  assert.equal(user.resets, 1, 'the user connection is reset');
  assert.equal(user.ends, 0, 'never a clean end');
  assert.equal(entry.mux.flowCount, 0);
  // The RST is owed to the exit: it goes out when a path joins again.
  const back = path(0);
  clock.run(clock.now() + 10);
  assert.ok(back.port.sent.some((f) => f.type === 'RST' && f.flow === flow), 'RST sent once a path is back');
});

test('entry: a path back within the linger keeps the flows; the linger counts from the last path down', () => {
  const { clock, entry, user, p, path } = setup();
  const linger = sessionLingerMs(cfg.tuning);
  clock.run(linger * 2);
  assert.equal(entry.mux.pathCount, 1, 'the fake path stays up (it acknowledges)');
  assert.equal(user.resets, 0, 'no outage, no reset');
  entry.mux.pathClosed(p.id, 'outage');
  clock.run(clock.now() + linger / 2);
  const q = path(0);
  clock.run(clock.now() + linger);
  assert.equal(user.resets, 0, 'a path is up: nothing to reset');
  entry.mux.pathClosed(q.id, 'outage again');
  const down = clock.now();
  clock.run(down + linger - 1);
  assert.equal(user.resets, 0, 'the second outage is shorter than the linger so far');
  clock.run(down + linger + 1);
  assert.equal(user.resets, 1);
});
