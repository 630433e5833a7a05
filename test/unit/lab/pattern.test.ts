import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fillPattern, patternBytes, patternSha256 } from '../../../src/lab/pattern.js';

test('the pattern is deterministic and any window of it equals the same slice of the whole', () => {
  const whole = patternBytes(100_000);
  assert.ok(whole.equals(patternBytes(100_000)));
  for (const [off, len] of [[0, 1], [1, 7], [3, 4096], [65_535, 10], [99_990, 10]] as const) {
    assert.ok(fillPattern(Buffer.alloc(len), off).equals(whole.subarray(off, off + len)), `window ${off}+${len}`);
  }
});

test('the pattern does not repeat: 16 KiB chunks are all different', () => {
  const whole = patternBytes(1 << 20);
  const seen = new Set<string>();
  for (let off = 0; off < whole.length; off += 16384) seen.add(whole.subarray(off, off + 16384).toString('hex'));
  assert.equal(seen.size, 64);
});

test('patternSha256 is the sha256 of the bytes, across its 1 MiB steps', () => {
  for (const n of [0, 5, (1 << 20) + 3]) {
    assert.equal(patternSha256(n), createHash('sha256').update(patternBytes(n)).digest('hex'));
  }
});
