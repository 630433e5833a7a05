/** SendStream and ReceiveStream on their own: windows, acknowledgements, resends, duplicates, FIN. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SendStream } from '../../../src/relay/core/send-stream.js';
import { CHUNK_COST, ReceiveStream } from '../../../src/relay/core/receive-stream.js';

const chunk = (n: number, v = 1) => Buffer.alloc(n, v);
/** A window that admits `bytes` of payload in `chunks` chunks (the charge both ends count). */
const win = (bytes: number, chunks: number) => bytes + chunks * CHUNK_COST;

test('send: new items only within the window; the first unacknowledged always goes', () => {
  const s = new SendStream();
  s.push(chunk(100));
  s.push(chunk(100));
  s.push(chunk(100));
  const a = s.peek(150)!;
  assert.equal(a.off, 0);
  s.sent(a, 1);
  assert.equal(s.peek(150), undefined, 'the second would end at 200 > 150');
  assert.equal(s.peek(win(200, 2) - 1), undefined, 'two chunks are charged their cost each');
  assert.equal(s.peek(win(200, 2))!.off, 100);
  assert.equal(s.ack(100), 100);
  assert.equal(s.peek(150)!.off, 100, 'the first unacknowledged always goes');
  assert.equal(s.held, 200);
  assert.equal(s.sentCharge, 0);
  s.sent(s.peek(150)!, 1);
  assert.equal(s.sentCharge, 100 + CHUNK_COST);
});

test('send: a failed path gives its unacknowledged items back, lowest offset first, before new ones', () => {
  const s = new SendStream();
  for (let i = 0; i < 6; i++) s.push(chunk(10));
  const paths = [1, 2, 1, 2, 1];
  for (const p of paths) s.sent(s.peek(win(1000, 6))!, p);
  s.ack(10);
  assert.equal(s.pathFailed(1), 2, 'items at 20 and 40 (0 is acknowledged)');
  assert.equal(s.peek(win(1000, 6))!.off, 20);
  s.sent(s.peek(win(1000, 6))!, 2);
  assert.equal(s.peek(win(1000, 6))!.off, 40);
  s.sent(s.peek(win(1000, 6))!, 2);
  assert.equal(s.peek(win(1000, 6))!.off, 50, 'then the never-sent one');
  assert.equal(s.inFlightOn(2), 4);
});

test('send: a resend acknowledged meanwhile is skipped; FIN is one unit; done after its ack', () => {
  const s = new SendStream();
  s.push(chunk(10));
  s.push(chunk(10));
  s.pushFin();
  for (let i = 0; i < 3; i++) s.sent(s.peek(win(100, 3))!, 1);
  s.pathFailed(1);
  s.ack(20);
  const fin = s.peek(win(100, 3))!;
  assert.equal(fin.data, undefined);
  assert.equal(fin.off, 20);
  s.sent(fin, 2);
  assert.equal(s.done, false);
  s.ack(21);
  assert.equal(s.done, true);
  assert.equal(s.held, 0);
});

test('send: an ACK beyond what was sent or inside a chunk is a protocol error', () => {
  const s = new SendStream();
  s.push(chunk(10));
  s.push(chunk(10));
  s.sent(s.peek(win(100, 3))!, 1);
  assert.throws(() => s.ack(20), /beyond what was sent/);
  assert.throws(() => s.ack(5), /not a chunk boundary/);
  assert.equal(s.ack(10), 10);
  assert.equal(s.ack(3), 0, 'an old ACK is ignored');
});

test('receive: in order out of any order, duplicates dropped, FIN last', () => {
  const r = new ReceiveStream(win(1000, 3));
  assert.equal(r.accept(10, chunk(10, 2)), 'new');
  assert.equal(r.pull(), undefined, 'waits for offset 0');
  assert.equal(r.accept(20, undefined), 'new');
  assert.equal(r.accept(0, chunk(10, 1)), 'new');
  assert.equal(r.accept(10, chunk(10, 2)), 'dup');
  assert.equal(r.buffered, 20);
  assert.equal(r.pull()!.data![0], 1);
  assert.equal(r.accept(0, chunk(10, 1)), 'dup');
  assert.equal(r.pull()!.data![0], 2);
  assert.equal(r.pull()!.data, undefined);
  assert.equal(r.finished, true);
  assert.equal(r.delivered, 21);
});

test('receive: beyond the window is an overflow; data after the FIN or a split overlap is invalid', () => {
  const r = new ReceiveStream(win(100, 1));
  assert.equal(r.accept(90 + CHUNK_COST, chunk(11)), 'overflow');
  assert.equal(r.accept(90 + CHUNK_COST, chunk(10)), 'new');
  assert.equal(r.accept(50, chunk(10)), 'overflow', 'a second chunk overruns the charge');
  assert.equal(r.accept(50, undefined), 'invalid', 'FIN before data already held');
  const f = new ReceiveStream(win(100, 2));
  assert.equal(f.accept(30, undefined), 'new');
  assert.equal(f.accept(25, chunk(10)), 'invalid');
  const o = new ReceiveStream(100);
  o.accept(0, chunk(10));
  o.pull();
  assert.equal(o.accept(5, chunk(10)), 'invalid');
});

test('receive: a chunk that is a small view into a large record is copied out; a chunk that fills its record is kept as is', () => {
  const r = new ReceiveStream(1 << 20);
  const record = Buffer.alloc(65_600, 7);
  r.accept(10, record.subarray(100, 110));
  const whole = Buffer.alloc(1000, 8);
  const view = whole.subarray(13);
  r.accept(20, view);
  r.accept(0, chunk(10));
  r.pull();
  const a = r.pull()!.data!;
  assert.equal(a.buffer.byteLength, 10, 'the copy holds only its payload');
  assert.deepEqual(a, Buffer.alloc(10, 7));
  const b = r.pull()!.data!;
  assert.equal(b, view, 'a view at most VIEW_SLACK smaller than its record is kept (no copy)');
  assert.equal(r.charge, 0);
});

test('receive: the charge is held to the room the session gives, separately from the window', () => {
  const r = new ReceiveStream(win(1000, 10));
  assert.equal(r.accept(100, chunk(100), win(100, 1) - 1), 'session-overflow');
  assert.equal(r.charge, 0, 'nothing held after a refusal');
  assert.equal(r.accept(100, chunk(100), win(100, 1)), 'new');
  assert.equal(r.charge, win(100, 1));
});
