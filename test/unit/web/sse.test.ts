import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSse, sseComment, sseEvent, sseRetry } from '../../../src/web/sse.js';

test('sse: an event is `event:`, data lines and a blank line; JSON comes back intact', () => {
  const f = sseEvent('sample', { t: 1, links: { wan1: { state: 'online' } } });
  assert.equal(f, 'event: sample\ndata: {"t":1,"links":{"wan1":{"state":"online"}}}\n\n');
  assert.deepEqual(parseSse(f), [{ event: 'sample', data: '{"t":1,"links":{"wan1":{"state":"online"}}}' }]);
  assert.equal(sseEvent('event', 1, 7), 'id: 7\nevent: event\ndata: 1\n\n');
});

test('sse: a value with newlines cannot end the frame or add a field', () => {
  const evil = 'x\n\nevent: status\ndata: {"pwned":true}\r\nid: 9\rretry: 1';
  const f = sseEvent('event', { message: evil });
  const frames = parseSse(f);
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.event, 'event');
  assert.deepEqual(JSON.parse(frames[0]!.data), { message: evil });
  // Even a raw string with line breaks (not JSON-escaped) stays in one frame as data lines.
  const raw = sseEvent('event', undefined);
  assert.equal(raw, 'event: event\ndata: null\n\n');
});

test('sse: names are checked; comments and retry are framed', () => {
  for (const bad of ['', 'Sample', 'a b', 'x\ndata: 1', 'a'.repeat(40)]) assert.throws(() => sseEvent(bad, 1), RangeError, bad);
  assert.equal(sseComment('keep-alive'), ': keep-alive\n\n');
  assert.equal(sseComment('a\nb'), ': a b\n\n');
  assert.equal(sseRetry(2000), 'retry: 2000\n\n');
  assert.deepEqual(parseSse(sseComment('x') + sseRetry(5) + sseEvent('a-b', [1, 2])), [{ event: 'a-b', data: '[1,2]' }]);
});

test('sse: parse handles frames split across CRLF, CR and LF line ends', () => {
  const text = 'event: a\r\ndata: 1\r\n\r\nevent: b\ndata: 2\ndata: 3\n\n';
  assert.deepEqual(parseSse(text), [
    { event: 'a', data: '1' },
    { event: 'b', data: '2\n3' },
  ]);
});
