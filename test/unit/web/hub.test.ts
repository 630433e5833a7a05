import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { SseHub, type StreamSink } from '../../../src/web/hub.js';

class FakeSink extends EventEmitter implements StreamSink {
  written: string[] = [];
  writableLength = 0;
  destroyed = false;
  write(chunk: string): boolean {
    this.written.push(chunk);
    return true;
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

test('hub: at most maxClients; the first frame goes to each; a closed client leaves', () => {
  const hub = new SseHub({ maxClients: 2, heartbeatMs: 60_000 });
  const [a, b, c] = [new FakeSink(), new FakeSink(), new FakeSink()];
  assert.equal(hub.add(a, 'hello\n\n'), true);
  assert.equal(hub.add(b, 'hello\n\n'), true);
  assert.equal(hub.add(c, 'hello\n\n'), false);
  assert.deepEqual(c.written, [], 'nothing written to a refused client');
  hub.broadcast('x\n\n');
  assert.deepEqual(a.written, ['hello\n\n', 'x\n\n']);
  b.emit('close');
  assert.equal(hub.size, 1);
  assert.equal(hub.add(c, 'hello\n\n'), true, 'room again');
  hub.close();
  assert.equal(hub.size, 0);
  assert.ok(a.destroyed && c.destroyed);
});

test('hub: a client that stops reading is dropped once over its backlog; the others keep receiving', () => {
  const drops: number[] = [];
  const hub = new SseHub({ maxBacklog: 1000, heartbeatMs: 60_000, onDrop: (n) => drops.push(n) });
  const slow = new FakeSink();
  const fast = new FakeSink();
  hub.add(slow, '');
  hub.add(fast, '');
  slow.writableLength = 1000;
  hub.broadcast('a');
  assert.equal(slow.destroyed, false, 'at the bound is still fine');
  slow.writableLength = 1001;
  hub.broadcast('b');
  assert.equal(slow.destroyed, true);
  assert.deepEqual(drops, [1001]);
  assert.equal(hub.droppedClients, 1);
  assert.deepEqual(fast.written, ['', 'a', 'b']);
  assert.equal(hub.size, 1);
  hub.close();
});

test('hub: the heartbeat reaches idle clients', async () => {
  const hub = new SseHub({ heartbeatMs: 20 });
  const s = new FakeSink();
  hub.add(s, '');
  await new Promise<void>((resolve) => {
    const check = () => (s.written.some((w) => w.startsWith(': keep-alive')) ? resolve() : setTimeout(check, 5));
    check();
  });
  hub.close();
});
