/**
 * What a key holder can make the relay engine hold (issue 9 §5): a peer that crafts its own frames
 * (tiny chunks at odd offsets, each a view into a full padded record; millions of chunks on one
 * flow; thousands of flows; endless short-lived flows) must be cut off before the engine holds more
 * than its limits, and what the engine holds must be charged by what it really pins in memory.
 * Each test drives an exit {@link Mux} with frames as the path layer would deliver them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Mux, CHUNK_COST, MAX_TOMBSTONES, type MuxTuning } from '../../../src/relay/core/mux.js';
import { Reason, MAX_PLAINTEXT } from '../../../src/relay/protocol/constants.js';
import { CAP_MAX } from '../../../src/relay/core/path-meter.js';
import type { Frame } from '../../../src/relay/protocol/frames.js';
import type { FlowPort, PathPort } from '../../../src/relay/core/ports.js';
import { silentLogger } from '../../../src/log.js';
import { SimClock, SimRelay, SimApp, TUNING, sha, streamBytes } from './sim.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

class FakePath implements PathPort {
  sent: Frame[] = [];
  closed: string | undefined;
  sendFrames(frames: readonly Frame[]): number {
    this.sent.push(...frames);
    return 100;
  }
  sendData(flow: number, offset: number, payload: Buffer): number {
    this.sent.push({ type: 'DATA', flow, offset, data: payload });
    return payload.length + 33;
  }
  close(reason: string): void {
    this.closed = reason;
  }
  rsts(): { flow: number; reason: number }[] {
    return this.sent.filter((f): f is Extract<Frame, { type: 'RST' }> => f.type === 'RST').map((f) => ({ flow: f.flow, reason: f.reason }));
  }
}

/** A target that takes nothing (its socket buffer is full): everything stays in the reorder buffer. */
class StuckTarget implements FlowPort {
  got: Buffer[] = [];
  blocked = true;
  wasReset = false;
  write(data: Buffer): boolean {
    this.got.push(Buffer.from(data));
    return !this.blocked;
  }
  end(): void {}
  reset(): void {
    this.wasReset = true;
  }
  pause(): void {}
  resume(): void {}
}

const T4 = { host: '198.19.0.10', port: 5201, family: 4 as const };

function exitMux(tuning: Partial<MuxTuning> = {}) {
  const clock = new SimClock();
  const ends: { id: number; reason: number | undefined }[] = [];
  const opened: number[] = [];
  const targets = new Map<number, StuckTarget>();
  const mux: Mux = new Mux('exit', { ...TUNING, ...tuning }, clock, silentLogger(), {
    onOpen: (id) => {
      opened.push(id);
      const t = new StuckTarget();
      targets.set(id, t);
      mux.acceptFlow(id, t);
    },
    onFlowEnd: (id, e) => ends.push({ id, reason: e.how === 'reset' ? e.reason : undefined }),
  });
  const path = new FakePath();
  const pid = mux.addPath(path, { slot: 0, name: 'p0' });
  const record = (frames: Frame[]) => mux.pathRecord(pid, frames, 1000);
  return { clock, mux, path, record, ends, opened, targets };
}

/** One byte of payload at `offset`, a view into a fresh record padded to the largest plaintext. */
function paddedChunk(flow: number, offset: number, refs: WeakRef<ArrayBuffer>[]): Frame {
  const record = Buffer.alloc(MAX_PLAINTEXT, 1);
  refs.push(new WeakRef(record.buffer));
  return { type: 'DATA', flow, offset, data: record.subarray(20, 21) };
}

/** Records still alive after a full collection (weak references are kept until the current job ends). */
async function alive(refs: WeakRef<ArrayBuffer>[]): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return refs.filter((r) => r.deref() !== undefined).length;
}

test('tiny chunks at odd offsets, each padded to a full record, do not pin their records', async () => {
  const x = exitMux();
  x.record([{ type: 'OPEN', flow: 1, target: T4 }]);
  const refs: WeakRef<ArrayBuffer>[] = [];
  const n = 2000; // 2000 records of 64 KiB: 131 MB if each one stays pinned
  for (let i = 0; i < n; i++) x.record([paddedChunk(1, 2 * i + 1, refs)]);
  // Positive control for the method: a chunk that fills its record is kept as a view, and its record stays alive.
  const full = Buffer.alloc(4000 + 13, 2);
  const kept = [new WeakRef(full.buffer)];
  x.record([{ type: 'DATA', flow: 1, offset: 2 * n + 1, data: full.subarray(13) }]);
  assert.equal(await alive(refs), 0, 'no padded record is pinned by the 1-byte chunk it carried');
  assert.equal(await alive(kept), 1, 'positive control: a record a held chunk fills is still referenced');
  const s = x.mux.status();
  assert.equal(s.flows, 1, 'the flow is still open (1-byte chunks well inside the window)');
  assert.equal(s.reorderBytes, n + 4000, 'every chunk is held');
  assert.equal(x.mux.held().reorderCharge, n * (1 + CHUNK_COST) + 4000 + CHUNK_COST);
  // The held bytes are the right ones: fill the gaps and the target gets all of it, in order.
  const t = x.targets.get(1)!;
  t.blocked = false;
  for (let i = 0; i < n; i++) x.record([{ type: 'DATA', flow: 1, offset: 2 * i, data: Buffer.from([0]) }]);
  x.record([{ type: 'DATA', flow: 1, offset: 2 * n, data: Buffer.from([0]) }]);
  const got = Buffer.concat(t.got);
  assert.equal(got.length, 2 * n + 1 + 4000);
  for (let i = 0; i < 2 * n; i++) assert.equal(got[i], i % 2, `byte ${i}`);
  assert.deepEqual(got.subarray(2 * n + 1), Buffer.alloc(4000, 2));
  assert.equal(x.mux.held().reorderCharge, 0);
});

test('a flow that sends more chunks than its window can charge is reset; the charge never exceeds the window', () => {
  const window = 256 * 1024;
  const x = exitMux({ reorderBuffer: window });
  x.record([{ type: 'OPEN', flow: 7, target: T4 }]);
  const limit = Math.floor(window / (1 + CHUNK_COST));
  let maxCharge = 0;
  let sent = 0;
  // 2 M one-byte chunks are what a peer could send; the engine must stop it long before.
  for (let i = 0; i < 2_000_000 && x.ends.length === 0; i++) {
    x.record([{ type: 'DATA', flow: 7, offset: 2 * i + 1, data: Buffer.from([i & 0xff]) }]);
    sent++;
    maxCharge = Math.max(maxCharge, x.mux.held().reorderCharge);
  }
  assert.deepEqual(x.ends, [{ id: 7, reason: Reason.PROTOCOL }], 'the flow was reset for breaking the window');
  assert.equal(sent, limit + 1, `reset at the first chunk beyond the charge (sent ${sent})`);
  assert.ok(maxCharge <= window, `charge peaked at ${maxCharge}`);
  assert.equal(x.mux.held().reorderCharge, 0, 'the reset flow holds nothing');
  x.clock.run(10);
  assert.ok(x.path.rsts().some((r) => r.flow === 7 && r.reason === Reason.PROTOCOL), 'the peer is told (RST protocol)');
  assert.equal(x.targets.get(7)!.wasReset, true);
});

test('all flows of a session together are held to the session buffer', () => {
  const window = 1024 * 1024;
  const sessionBuffer = 4 * 1024 * 1024;
  const x = exitMux({ reorderBuffer: window, sessionBuffer });
  const chunk = 60 * 1024;
  let maxCharge = 0;
  for (let flow = 1; flow <= 10; flow++) {
    x.record([{ type: 'OPEN', flow, target: T4 }]);
    // Each flow fills most of its own window (legal per flow) with out-of-order chunks.
    for (let k = 1; k <= 16; k++) {
      x.record([{ type: 'DATA', flow, offset: k * chunk, data: Buffer.alloc(chunk, flow) }]);
      maxCharge = Math.max(maxCharge, x.mux.held().reorderCharge);
    }
  }
  assert.ok(maxCharge <= sessionBuffer, `session charge peaked at ${maxCharge}`);
  assert.ok(x.ends.length > 0 && x.ends.every((e) => e.reason === Reason.PROTOCOL), `flows beyond the session budget were reset: ${JSON.stringify(x.ends)}`);
  // Positive control: the first flows were within the budget and are still open.
  assert.ok(x.mux.flowCount >= 3, `flows still open: ${x.mux.flowCount}`);
});

test('flows per session are capped: extra OPENs are refused with RST(limit) and hold nothing', () => {
  const x = exitMux({ maxFlows: 50 });
  for (let flow = 1; flow <= 80; flow++) x.record([{ type: 'OPEN', flow, target: T4 }]);
  assert.equal(x.mux.flowCount, 50);
  assert.equal(x.opened.length, 50, 'only the first 50 reach the exit (no target connect for the rest)');
  x.clock.run(10);
  const refused = x.path.rsts().filter((r) => r.reason === Reason.LIMIT).map((r) => r.flow);
  assert.deepEqual(refused, Array.from({ length: 30 }, (_, i) => 51 + i));
  // Positive control: once a flow ends, a new one is accepted again.
  x.record([{ type: 'RST', flow: 3, reason: Reason.RESET }]);
  x.record([{ type: 'OPEN', flow: 200, target: T4 }]);
  assert.equal(x.mux.flowCount, 50);
  assert.ok(x.opened.includes(200));
});

test('closed flows are remembered in bounded number however fast a peer opens and resets them', () => {
  const x = exitMux({ maxFlows: 8 });
  for (let flow = 1; flow <= MAX_TOMBSTONES + 5000; flow++) {
    x.record([{ type: 'OPEN', flow, target: T4 }, { type: 'RST', flow, reason: Reason.RESET }]);
    if (flow % 1000 === 0) x.clock.run(x.clock.now() + 1);
  }
  assert.equal(x.mux.flowCount, 0);
  assert.ok(x.mux.held().tombstones <= MAX_TOMBSTONES, `tombstones ${x.mux.held().tombstones}`);
  assert.ok(x.mux.held().tombstones >= 8, 'recent flows are still remembered (positive control)');
});

test('a sender with tiny chunks and a stuck receiver is paused by the charged window, never reset', () => {
  // The legitimate side of the charge: the sender counts the same per-chunk cost, so a flow of
  // 10-byte writes into a receiver whose application does not read never overruns the window.
  const window = 64 * 1024;
  const r = new SimRelay({ ...TUNING, reorderBuffer: window, sessionBuffer: 256 * 1024 });
  r.addPath(4_000_000, 5);
  r.addPath(1_000_000, 30);
  const ref = { id: -1 };
  const user = new SimApp(r.clock, 99, 200_000, { data: (b) => r.entry.flowData(ref.id, b), end: () => r.entry.flowEnd(ref.id) }, 10);
  user.onWritable = () => r.entry.flowDrain(ref.id);
  ref.id = r.entry.openFlow(user, T4);
  r.flows.set(ref.id, { id: ref.id, user, target: undefined, end: {} });
  user.start();
  let maxCharge = 0;
  r.clock.run(50);
  const f = r.flows.get(ref.id)!;
  f.target!.sinkLimit = 4096; // the target's application reads slowly:
  f.target!.sinkRate = 20_000; // 20 kB/s
  while (!r.allDone() && r.clock.now() < 120_000) {
    r.clock.run(r.clock.now() + 20);
    maxCharge = Math.max(maxCharge, r.exit.held().reorderCharge);
  }
  assert.deepEqual(f.end, { entry: 'done', exit: 'done' }, 'no reset');
  assert.equal(sha(f.target!.content), sha(streamBytes(99, 0, 200_000)));
  assert.ok(maxCharge <= window, `charge peaked at ${maxCharge}`);
  assert.ok(maxCharge > window / 2, `the window was used (charge peaked at ${maxCharge})`);
  assert.ok(user.pausedEver, 'the source was paused');
});

test('a burst of frames for a flow that is gone is answered once per flush, not once per frame', () => {
  const x = exitMux();
  x.record([{ type: 'OPEN', flow: 5, target: T4 }, { type: 'RST', flow: 5, reason: Reason.RESET }]);
  x.clock.run(10);
  x.path.sent = [];
  const frames: Frame[] = Array.from({ length: 4000 }, (_, i) => ({ type: 'DATA', flow: 5, offset: 2 * i + 1, data: Buffer.from([1]) }));
  frames.push(...Array.from({ length: 4000 }, (_, i): Frame => ({ type: 'DATA', flow: 77, offset: 2 * i + 1, data: Buffer.from([1]) })));
  x.record(frames);
  x.clock.run(20);
  assert.deepEqual(x.path.rsts(), [
    { flow: 5, reason: Reason.RESET },
    { flow: 77, reason: Reason.UNKNOWN_FLOW },
  ]);
  // The next burst, after the flush, is answered again (a lost RST is repeated).
  x.record(frames.slice(0, 10));
  x.clock.run(30);
  assert.equal(x.path.rsts().length, 3);
});

/** The exit sends a target's data to a peer that reads nothing but acknowledges everything; returns our socket queue (bytes). */
function unreadPeer(portReportsQueue: boolean): { queued: number; pathUp: boolean } {
  const x = exitMux({ sessionBuffer: 8 * 1024 * 1024 });
  const queue = { bytes: 0, written: 0, offsets: 0 };
  const port = x.path as FakePath & { queued?: number };
  if (portReportsQueue) Object.defineProperty(port, 'queued', { get: () => queue.bytes });
  const sendData = port.sendData.bind(port);
  const sendFrames = port.sendFrames.bind(port);
  port.sendData = (flow, offset, payload) => {
    const n = sendData(flow, offset, payload);
    queue.bytes += n;
    queue.written += n;
    queue.offsets = Math.max(queue.offsets, offset + payload.length);
    return n;
  };
  port.sendFrames = (frames) => {
    const n = sendFrames(frames);
    queue.bytes += n;
    queue.written += n;
    return n;
  };
  x.record([{ type: 'OPEN', flow: 1, target: T4 }]);
  const target = x.targets.get(1)!;
  let paused = false;
  target.pause = () => (paused = true);
  target.resume = () => (paused = false);
  for (let step = 0; step < 1500; step++) {
    if (!paused) x.mux.flowData(1, Buffer.alloc(64 * 1024, 3));
    x.clock.run(x.clock.now() + 1);
    x.record([
      { type: 'PATH_ACK', received: queue.written, time: 0 },
      { type: 'ACK', flow: 1, offset: queue.offsets },
    ]);
  }
  return { queued: queue.bytes, pathUp: x.path.closed === undefined };
}

test('a peer that acknowledges what it never read cannot grow our socket queue past the path cap', () => {
  // The peer reads nothing: every byte we write stays queued in our socket. It still sends
  // PATH_ACKs for all of it and ACKs every chunk (it can guess the sizes), so unless the engine
  // counts the queue as in flight it writes whatever the target sends, without bound.
  const control = unreadPeer(false);
  assert.ok(control.queued > 4 * CAP_MAX, `positive control: a port that hides its queue lets it grow to ${control.queued} bytes`);
  const bounded = unreadPeer(true);
  assert.ok(bounded.pathUp);
  assert.ok(bounded.queued > 64 * 1024, `the path was used (${bounded.queued} bytes queued)`);
  assert.ok(bounded.queued <= CAP_MAX + 128 * 1024, `queued ${bounded.queued} bytes, cap ${CAP_MAX}`);
});

test('new chunks wait while the session charge is full and go when a flow that held it ends', () => {
  const x = exitMux({ sessionBuffer: 48 * 1024 });
  x.record([{ type: 'OPEN', flow: 1, target: T4 }, { type: 'OPEN', flow: 2, target: T4 }]);
  x.mux.flowData(1, Buffer.alloc(48 * 1024, 1));
  x.mux.flowData(2, Buffer.alloc(48 * 1024, 2));
  x.clock.run(5);
  const data = (flow: number) => x.path.sent.filter((f) => f.type === 'DATA' && f.flow === flow).length;
  assert.deepEqual([data(1), data(2)], [2, 0], 'two 16 KiB chunks fit in 48 KiB with their charge, a third does not');
  assert.equal(x.mux.held().sentCharge, 2 * (16 * 1024 + CHUNK_COST));
  x.record([{ type: 'RST', flow: 1, reason: Reason.RESET }]);
  x.clock.run(10);
  // One chunk: the path's own in-flight cap (64 KiB, flow 1's chunks still count there) stops the next.
  assert.equal(data(2), 1, 'flow 2 sends once flow 1 no longer holds the budget');
  assert.equal(x.mux.held().sentCharge, 16 * 1024 + CHUNK_COST);
});
