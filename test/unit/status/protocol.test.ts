import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, parseRequest, okReply, errorReply } from '../../../src/status/protocol.js';

test('requests parse into typed commands, with the id echoed', () => {
  assert.deepEqual(parseRequest('{"cmd":"status"}'), { ok: true, id: undefined, request: { cmd: 'status' } });
  assert.deepEqual(parseRequest('{"cmd":"link","link":"wan1","action":"down","id":7}'), {
    ok: true,
    id: 7,
    request: { cmd: 'link', link: 'wan1', action: 'down' },
  });
  assert.deepEqual(parseRequest('{"cmd":"set","set":"bypass","op":"add","elements":["198.19.0.0/24"]}'), {
    ok: true,
    id: undefined,
    request: { cmd: 'set', set: 'bypass', op: 'add', elements: ['198.19.0.0/24'] },
  });
  assert.deepEqual(parseRequest('{"cmd":"speedtest"}'), { ok: true, id: undefined, request: { cmd: 'speedtest' } });
  assert.deepEqual(parseRequest('{"cmd":"speedtest","entry":"lanrelay","seconds":3}'), { ok: true, id: undefined, request: { cmd: 'speedtest', entry: 'lanrelay', seconds: 3 } });
});

test('bad requests get a reason that names what was wrong', () => {
  const msg = (line: string) => {
    const r = parseRequest(line);
    assert.equal(r.ok, false);
    return r.ok ? '' : r.error.message;
  };
  assert.match(msg('not json'), /^bad JSON/);
  assert.match(msg('[1,2]'), /expected a JSON object/);
  assert.match(msg('{"cmd":"launch"}'), /unknown command "launch"/);
  assert.match(msg('{}'), /missing "cmd"/);
  assert.match(msg('{"cmd":"status","x":1}'), /unknown field "x" for "status"/);
  assert.match(msg('{"cmd":"link","link":"wan1","action":"off"}'), /"action" must be/);
  assert.match(msg('{"cmd":"set","set":"bypass","op":"add"}'), /needs at least one element/);
  assert.match(msg('{"cmd":"status","id":{}}'), /"id" must be/);
  assert.match(msg('{"cmd":"speedtest","seconds":0.5}'), /"seconds" must be a number from 1 to 20/);
  assert.match(msg('{"cmd":"speedtest","seconds":"4"}'), /"seconds" must be a number/);
  assert.match(msg('{"cmd":"speedtest","entry":""}'), /"entry" must name a relay entry/);
  assert.match(msg('{"cmd":"speedtest","link":"wan1"}'), /unknown field "link" for "speedtest"/);
  const r = parseRequest('{"cmd":"nope","id":"a"}');
  assert.equal(r.ok === false && r.id, 'a');
});

test('replies are one JSON line each', () => {
  assert.equal(okReply(1, { pong: true }), '{"ok":true,"id":1,"pong":true}\n');
  assert.equal(errorReply(undefined, { code: 'X', message: 'm' }), '{"ok":false,"error":{"code":"X","message":"m"}}\n');
});

test('the line splitter reassembles lines split anywhere', () => {
  const text = '{"cmd":"status"}\n{"cmd":"ping","id":2}\r\n\n{"cmd":"link","link":"wan1","action":"auto"}\n';
  const bytes = Buffer.from(text);
  for (let seed = 1; seed <= 50; seed++) {
    const s = new LineSplitter(1024);
    const lines: (string | null)[] = [];
    let i = 0;
    let x = seed;
    while (i < bytes.length) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const n = 1 + (x % 7);
      lines.push(...s.push(bytes.subarray(i, i + n)));
      i += n;
    }
    assert.deepEqual(lines, ['{"cmd":"status"}', '{"cmd":"ping","id":2}', '{"cmd":"link","link":"wan1","action":"auto"}']);
  }
});

test('an oversized line is reported once and skipped to its newline, the next line is intact', () => {
  const s = new LineSplitter(16);
  const out = [...s.push(Buffer.from('x'.repeat(10))), ...s.push(Buffer.from('y'.repeat(10))), ...s.push(Buffer.from('zzz\n{"cmd":"ping"}\n'))];
  assert.deepEqual(out, [null, '{"cmd":"ping"}']);
});
