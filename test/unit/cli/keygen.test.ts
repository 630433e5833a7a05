/** `wanbraid keygen` prints a fresh key that the key-file reader accepts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../../src/cli/main.js';
import { parseKey } from '../../../src/relay/key.js';

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  return main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) }).then((code) => ({ code, out, err }));
}

test('keygen prints one new base64 key per call, exit 0', async () => {
  const a = await run(['keygen']);
  const b = await run(['keygen']);
  assert.equal(a.code, 0);
  assert.equal(a.out.length, 1);
  const key = parseKey(a.out[0]!);
  assert.ok(Buffer.isBuffer(key) && key.length === 32);
  assert.notEqual(a.out[0], b.out[0]);
});

test('keygen takes no arguments (exit 2) and has help', async () => {
  const r = await run(['keygen', 'extra']);
  assert.equal(r.code, 2);
  assert.match(r.err.join('\n'), /keygen: unexpected argument "extra"/);
  const h = await run(['keygen', '--help']);
  assert.match(h.out.join('\n'), /umask 077; wanbraid keygen > \/etc\/wanbraid\/relay.key/);
});
