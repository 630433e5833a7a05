/**
 * The relay engine on a simulated network (virtual clock, so every figure here is exact and
 * repeatable): byte-exact delivery in both directions, shares that follow path capacity, path
 * death and return mid-transfer, bounded reorder buffers with backpressure, half-close and reset
 * propagation, 200 concurrent flows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRelay, sha, streamBytes, TUNING } from './sim.js';

const MB = 1_000_000;

function expectExact(got: Buffer, seed: number, len: number, what: string): void {
  assert.equal(got.length, len, `${what}: length`);
  assert.equal(sha(got), sha(streamBytes(seed, 0, len)), `${what}: content`);
}

test('unequal paths (5:1): one flow reaches the sum, shares follow capacity, bytes exact', () => {
  const r = new SimRelay();
  const fast = r.addPath(5 * MB, 10);
  const slow = r.addPath(1 * MB, 10);
  const size = 30 * MB;
  const f = r.openFlow(size);
  const t = r.clock.run(60_000, () => r.allDone());
  assert.ok(r.allDone(), 'flow completed');
  expectExact(f.target!.content, f.user.seed, size, 'upload');
  const rate = (size / t) * 1000;
  assert.ok(rate >= 0.9 * 6 * MB, `rate ${(rate / MB).toFixed(2)} MB/s should be >= 90% of 6 MB/s`);
  const share = fast.up.bytes / (fast.up.bytes + slow.up.bytes);
  assert.ok(Math.abs(share - 5 / 6) < 0.05, `fast path share ${share.toFixed(3)} should be near ${(5 / 6).toFixed(3)}`);
  assert.equal(f.end.entry, 'done');
  assert.equal(f.end.exit, 'done');
  assert.equal(r.entry.flowCount, 0);
  assert.equal(r.exit.flowCount, 0);
});

test('a round-robin baseline would be paced by the slow path (positive control for the share test)', () => {
  // Round-robin puts half the bytes on each path: the slow path then needs size/2 / 1 MB/s.
  const size = 30 * MB;
  const rrTime = size / 2 / MB;
  const r = new SimRelay();
  r.addPath(5 * MB, 10);
  r.addPath(1 * MB, 10);
  r.openFlow(size);
  const t = r.clock.run(60_000, () => r.allDone()) / 1000;
  assert.ok(t < rrTime / 2, `engine took ${t.toFixed(1)} s, round-robin would take ${rrTime} s`);
});

test('download and upload at once, equal paths: both directions striped and exact', () => {
  const r = new SimRelay();
  const a = r.addPath(4 * MB, 5);
  const b = r.addPath(4 * MB, 15);
  r.replyBytes = 20 * MB;
  const f = r.openFlow(8 * MB);
  r.clock.run(60_000, () => r.allDone());
  assert.ok(r.allDone());
  expectExact(f.target!.content, f.user.seed, 8 * MB, 'upload');
  expectExact(f.user.content, f.target!.seed, 20 * MB, 'download');
  assert.ok(a.down.bytes > 5 * MB && b.down.bytes > 5 * MB, `both paths carry the download (${a.down.bytes}, ${b.down.bytes})`);
});

test('a path blackholed mid-transfer: its chunks are resent both ways, nothing lost or duplicated, short stall', () => {
  const r = new SimRelay();
  r.addPath(4 * MB, 10);
  const dying = r.addPath(4 * MB, 10);
  const up = r.openFlow(16 * MB);
  r.clock.run(50);
  r.replyBytes = 16 * MB;
  const down = r.openFlow(0);
  r.clock.run(1000);
  dying.cut();
  // Longest time a receiver saw no new byte after the cut.
  const progress = [() => up.target!.receivedBytes, () => down.user.receivedBytes];
  const last = [1000, 1000];
  const seen = progress.map((p) => p());
  let stall = 0;
  while (!r.allDone() && r.clock.now() < 60_000) {
    const now = r.clock.run(r.clock.now() + 10);
    progress.forEach((p, i) => {
      if (p() !== seen[i] || p() === 16 * MB) [seen[i], last[i]] = [p(), now];
      stall = Math.max(stall, now - last[i]!);
    });
  }
  assert.ok(r.allDone(), 'flows completed over the surviving path');
  expectExact(up.target!.content, up.user.seed, 16 * MB, 'upload');
  expectExact(down.user.content, down.target!.seed, 16 * MB, 'download');
  assert.equal(r.entry.status().paths.length, 1, 'the dead path was dropped');
  assert.ok(r.entry.status().resentChunks > 0, 'the entry resent upload chunks');
  assert.ok(r.exit.status().resentChunks > 0, 'the exit resent download chunks');
  assert.ok(r.entryEvents.some((e) => /no acknowledgement/.test(e)), `death by timeout: ${r.entryEvents.join('; ')}`);
  // Detection takes pathTimeout (1.5 s) plus a tick; then the resent chunks fill the gap.
  assert.ok(stall <= 2000, `delivery stalled ${stall} ms`);
});

test('a path that dies and comes back is used again; bytes stay exact', () => {
  const r = new SimRelay();
  r.addPath(3 * MB, 10, { slot: 0 });
  const p1 = r.addPath(3 * MB, 10, { slot: 1 });
  const f = r.openFlow(40 * MB);
  r.clock.run(1500);
  p1.cut();
  r.clock.run(4500);
  assert.equal(r.entry.pathCount, 1);
  const back = r.addPath(3 * MB, 10, { slot: 1 });
  r.clock.run(60_000, () => r.allDone());
  assert.ok(r.allDone());
  expectExact(f.target!.content, f.user.seed, 40 * MB, 'upload');
  assert.ok(back.up.bytes > 5 * MB, `the returned path carried ${back.up.bytes} bytes`);
});

test('a path closed by the peer (GOAWAY/FIN) is dropped at once, without waiting for the timeout', () => {
  const r = new SimRelay();
  r.addPath(2 * MB, 5);
  const p = r.addPath(2 * MB, 5);
  const f = r.openFlow(10 * MB);
  r.clock.run(500);
  r.exit.removePath(p.exitId, 'reload');
  r.clock.run(520);
  assert.equal(r.entry.pathCount, 1, 'the entry dropped the path within one propagation delay');
  r.clock.run(60_000, () => r.allDone());
  expectExact(f.target!.content, f.user.seed, 10 * MB, 'upload');
});

test('the reorder buffer stays within its window and backpressures the source when the sink is slow', () => {
  const tuning = { ...TUNING, reorderBuffer: 256 * 1024 };
  const r = new SimRelay(tuning);
  r.addPath(4 * MB, 2);
  r.addPath(1 * MB, 40);
  const f = r.openFlow(6 * MB);
  let maxReorder = 0;
  let maxHeld = 0;
  let exitAppSlowed = false;
  const sample = () => {
    const s = r.exit.status();
    maxReorder = Math.max(maxReorder, s.reorderBytes);
    maxHeld = Math.max(maxHeld, r.entry.status().unackedBytes);
    if (!exitAppSlowed && f.target) {
      f.target.sinkLimit = 64 * 1024;
      f.target.sinkRate = 0.5 * MB;
      exitAppSlowed = true;
    }
  };
  while (!r.allDone() && r.clock.now() < 120_000) {
    r.clock.run(r.clock.now() + 20);
    sample();
  }
  assert.ok(r.allDone());
  expectExact(f.target!.content, f.user.seed, 6 * MB, 'upload');
  assert.ok(maxReorder <= 256 * 1024, `reorder buffer peaked at ${maxReorder}`);
  assert.ok(maxHeld <= 256 * 1024 + 64 * 1024, `sender held at most window + one read, got ${maxHeld}`);
  assert.ok(f.user.pausedEver, 'the source was paused by backpressure');
});

test('half-close: the user shuts its write side first and still receives the whole reply', () => {
  const r = new SimRelay();
  r.addPath(2 * MB, 5);
  r.addPath(2 * MB, 5);
  r.replyBytes = 3 * MB;
  const f = r.openFlow(1000);
  r.clock.run(60_000, () => r.allDone());
  assert.ok(f.target!.ended, 'the target saw the FIN');
  expectExact(f.target!.content, f.user.seed, 1000, 'request');
  expectExact(f.user.content, f.target!.seed, 3 * MB, 'reply after the FIN');
  assert.ok(f.user.ended);
  assert.equal(f.end.entry, 'done');
});

test('a reset at the user is propagated to the target, and a refused open resets the user', () => {
  const r = new SimRelay();
  r.addPath(2 * MB, 5);
  r.replyBytes = -1;
  const f = r.openFlow(-1);
  r.clock.run(200);
  assert.ok(f.target, 'the exit connected');
  r.entry.flowError(f.id);
  r.clock.run(400);
  assert.ok(f.target.resetCalled, 'target reset');
  assert.match(f.end.exit ?? '', /^reset:0:peer/);

  r.refuse = true;
  const g = r.openFlow(100);
  r.clock.run(800);
  assert.ok(g.user.resetCalled, 'user reset after the refusal');
  assert.equal(g.end.entry, 'reset:1:peer');
});

test('a flow opened before any path exists waits, then runs when a path joins', () => {
  const r = new SimRelay();
  const f = r.openFlow(2 * MB);
  r.clock.run(3000);
  assert.equal(f.target, undefined);
  r.addPath(2 * MB, 5);
  r.clock.run(60_000, () => r.allDone());
  expectExact(f.target!.content, f.user.seed, 2 * MB, 'upload');
});

test('200 concurrent flows: all exact, held bytes bounded by the session buffer', () => {
  const tuning = { ...TUNING, sessionBuffer: 8 * MB, reorderBuffer: 1 * MB };
  const r = new SimRelay(tuning);
  r.addPath(10 * MB, 10);
  r.addPath(2 * MB, 10);
  r.replyBytes = 100_000;
  const flows = Array.from({ length: 200 }, () => r.openFlow(200_000));
  let maxHeld = 0;
  let maxReorder = 0;
  while (!r.allDone() && r.clock.now() < 120_000) {
    r.clock.run(r.clock.now() + 10);
    maxHeld = Math.max(maxHeld, r.entry.status().unackedBytes);
    maxReorder = Math.max(maxReorder, r.exit.status().reorderBytes);
  }
  assert.ok(r.allDone(), 'all flows completed');
  for (const f of flows) {
    expectExact(f.target!.content, f.user.seed, 200_000, `flow ${f.id} upload`);
    expectExact(f.user.content, f.target!.seed, 100_000, `flow ${f.id} download`);
  }
  assert.ok(maxHeld <= 8 * MB + 200 * 64 * 1024, `held ${maxHeld}`);
  assert.ok(maxReorder <= 8 * MB + 200 * 64 * 1024, `reorder ${maxReorder}`);
  assert.equal(r.entry.flowCount + r.exit.flowCount, 0);
});

test('chunks the exit already has are resent when every return path fails; the duplicates are dropped', () => {
  const r = new SimRelay();
  const p = r.addPath(2 * MB, 5, { slot: 0 });
  const q = r.addPath(2 * MB, 5, { slot: 1 });
  const f = r.openFlow(8 * MB);
  r.clock.run(800);
  // The exit keeps receiving, but nothing it says reaches the entry: acknowledgements are lost.
  p.down.cut = true;
  q.down.cut = true;
  r.clock.run(900);
  p.up.cut = true;
  q.up.cut = true;
  r.clock.run(4000);
  assert.equal(r.entry.pathCount, 0, 'the entry declared both paths dead');
  r.addPath(2 * MB, 5, { slot: 0 });
  r.clock.run(60_000, () => r.allDone());
  assert.ok(r.allDone());
  expectExact(f.target!.content, f.user.seed, 8 * MB, 'upload');
  assert.ok(r.entry.status().resentChunks > 0, 'chunks were resent');
  assert.ok(r.exit.status().duplicateChunks > 0, 'the exit dropped duplicates');
});

test('both directions saturated at once: neither starves (acks wait behind the other direction’s data)', () => {
  for (const [a, b] of [
    [4, 4],
    [5, 1],
  ] as const) {
    const r = new SimRelay();
    r.addPath(a * MB, 10);
    r.addPath(b * MB, 10);
    const up = r.openFlow(60 * MB);
    r.clock.run(50);
    r.replyBytes = 60 * MB;
    const down = r.openFlow(0);
    r.clock.run(3000);
    const [u0, d0] = [up.target!.receivedBytes, down.user.receivedBytes];
    r.clock.run(8000);
    const upRate = (up.target!.receivedBytes - u0) / 5;
    const downRate = (down.user.receivedBytes - d0) / 5;
    const sum = (a + b) * MB;
    assert.ok(upRate >= 0.9 * sum && downRate >= 0.9 * sum, `${a}+${b} MB/s: up ${(upRate / MB).toFixed(2)}, down ${(downRate / MB).toFixed(2)} MB/s`);
  }
});

test('an OPEN lost with its path is sent again on another path; the flow then runs', () => {
  const r = new SimRelay();
  const fast = r.addPath(4 * MB, 5);
  r.addPath(4 * MB, 20);
  r.clock.run(200);
  // The OPEN goes on the fastest path; blackhole that path before it arrives.
  const f = r.openFlow(2 * MB);
  fast.cut();
  r.clock.run(1000);
  assert.equal(f.target, undefined, 'the OPEN went down with the fast path');
  r.clock.run(60_000, () => r.allDone());
  assert.ok(r.allDone(), 'completed over the other path');
  expectExact(f.target!.content, f.user.seed, 2 * MB, 'upload');
});

/** Rates (bytes/s) each way over `ms` of virtual time, after `warmMs`, with an upload and a download flow saturating the paths. */
function bothWays(r: SimRelay, warmMs: number, ms: number): { up: number; down: number; peakReorder: number } {
  const up = r.openFlow(1000 * MB);
  r.clock.run(50);
  r.replyBytes = 1000 * MB;
  const down = r.openFlow(0);
  r.clock.run(warmMs);
  const [u0, d0] = [up.target!.receivedBytes, down.user.receivedBytes];
  let peakReorder = 0;
  for (let t = warmMs; t < warmMs + ms; t += 50) {
    r.clock.run(t + 50);
    peakReorder = Math.max(peakReorder, r.entry.status().reorderBytes, r.exit.status().reorderBytes);
  }
  return { up: ((up.target!.receivedBytes - u0) * 1000) / ms, down: ((down.user.receivedBytes - d0) * 1000) / ms, peakReorder };
}

test('unequal RTTs (10 ms / 60 ms), both directions saturated: each way near the sum; unpaced, the two directions feed each other bursts', () => {
  const sum = 10 * MB;
  const paced = new SimRelay();
  paced.addPath(5 * MB, 5);
  paced.addPath(5 * MB, 30);
  const p = bothWays(paced, 3000, 5000);
  assert.ok(p.up >= 0.9 * sum && p.down >= 0.9 * sum, `paced: up ${(p.up / MB).toFixed(2)}, down ${(p.down / MB).toFixed(2)} MB/s of ${sum / MB}`);
  // Reorder memory follows the paths' rate x RTT difference (10 MB/s x 50 ms), not the window.
  assert.ok(p.peakReorder <= 2 * sum * 0.05 + 4 * TUNING.chunkSize, `peak reorder ${(p.peakReorder / MB).toFixed(2)} MB`);
  // Positive control: the same engine without pacing (the cause, docs/relay-protocol.md §6).
  const unpaced = new SimRelay({ ...TUNING, pacing: false });
  unpaced.addPath(5 * MB, 5);
  unpaced.addPath(5 * MB, 30);
  const u = bothWays(unpaced, 3000, 5000);
  assert.ok(Math.min(u.up, u.down) < 0.85 * sum, `unpaced: up ${(u.up / MB).toFixed(2)}, down ${(u.down / MB).toFixed(2)} MB/s`);
});

test('a 300 ms path beside a 10 ms one, both directions saturated: each way near the sum', () => {
  const r = new SimRelay();
  r.addPath(5 * MB, 5);
  r.addPath(5 * MB, 150);
  const b = bothWays(r, 4000, 6000);
  assert.ok(b.up >= 0.9 * 10 * MB && b.down >= 0.9 * 10 * MB, `up ${(b.up / MB).toFixed(2)}, down ${(b.down / MB).toFixed(2)} MB/s`);
  assert.ok(b.peakReorder <= TUNING.reorderBuffer, `peak reorder ${b.peakReorder}`);
});

test('a slow, long path beside a fast one never makes the flow slower than the fast path alone', () => {
  const alone = new SimRelay();
  alone.addPath(5 * MB, 5);
  const a = bothWays(alone, 3000, 5000);
  const r = new SimRelay();
  r.addPath(5 * MB, 5);
  r.addPath(0.25 * MB, 100);
  const b = bothWays(r, 3000, 5000);
  assert.ok(b.up >= a.up && b.down >= a.down, `with the slow path: up ${(b.up / MB).toFixed(2)}, down ${(b.down / MB).toFixed(2)}; fast alone: ${(a.up / MB).toFixed(2)}, ${(a.down / MB).toFixed(2)} MB/s`);
});

test('a flow holds what its paths carry at once, not the whole window: memory follows rate x RTT', () => {
  const held = (paths: [number, number][]): { rate: number; held: number } => {
    const r = new SimRelay();
    for (const [rate, delay] of paths) r.addPath(rate * MB, delay);
    const f = r.openFlow(400 * MB);
    r.clock.run(3000);
    const b0 = f.target!.receivedBytes;
    let peak = 0;
    for (let t = 3000; t < 6000; t += 50) {
      r.clock.run(t + 50);
      peak = Math.max(peak, r.entry.status().unackedBytes);
    }
    return { rate: ((f.target!.receivedBytes - b0) * 1000) / 3000, held: peak };
  };
  const short = held([
    [5, 1],
    [5, 1],
  ]);
  const long = held([
    [5, 5],
    [5, 30],
  ]);
  assert.ok(short.rate >= 0.95 * 10 * MB && long.rate >= 0.95 * 10 * MB, `rates ${short.rate}, ${long.rate}`);
  assert.ok(short.held <= TUNING.reorderBuffer / 4, `short paths: held ${short.held} bytes`);
  assert.ok(long.held > 2 * short.held && long.held <= TUNING.reorderBuffer + TUNING.chunkSize, `10/60 ms paths: held ${long.held} bytes, short ${short.held}`);
});

test('a slow path carries more again when it speeds up (its estimates follow it up)', () => {
  const r = new SimRelay();
  r.addPath(5 * MB, 5);
  const slow = r.addPath(0.25 * MB, 50);
  const f = r.openFlow(1000 * MB);
  r.clock.run(4000);
  const before = slow.up.bytes;
  r.clock.run(6000);
  const slowShareBefore = (slow.up.bytes - before) / 2;
  // The slow link becomes as fast as the other (e.g. a congested LTE cell clears).
  slow.up.rate = 5 * MB;
  slow.down.rate = 5 * MB;
  r.clock.run(10_000);
  const [b0, s0] = [f.target!.receivedBytes, slow.up.bytes];
  r.clock.run(14_000);
  const rate = (f.target!.receivedBytes - b0) / 4;
  const slowRate = (slow.up.bytes - s0) / 4;
  assert.ok(slowShareBefore <= 0.3 * MB, `slow path carried ${(slowShareBefore / MB).toFixed(2)} MB/s while slow`);
  assert.ok(slowRate >= 0.8 * 5 * MB && rate >= 0.9 * 10 * MB, `after it sped up: path ${(slowRate / MB).toFixed(2)} MB/s, flow ${(rate / MB).toFixed(2)} MB/s`);
});
