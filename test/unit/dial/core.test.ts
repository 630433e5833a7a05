import { test } from 'node:test';
import assert from 'node:assert/strict';
import { macvlanName, pppName, sessionLink, sessionMac } from '../../../src/dial/naming.js';
import { Backoff, dialOffsets } from '../../../src/dial/schedule.js';
import { Session } from '../../../src/dial/session.js';

test('session names and interfaces fit the kernel; the longest dial name makes 15 characters', () => {
  assert.equal(sessionLink('isp', 3), 'isp3');
  assert.equal(macvlanName('isp', 3), 'wbm-isp3');
  assert.equal(pppName('isp', 3), 'wbp-isp3');
  assert.equal(macvlanName('abcdefghi', 64).length, 15);
});

test('MACs: locally administered unicast, stable for a name and index, distinct across sessions and dials', () => {
  const seen = new Set<string>();
  for (const dial of ['isp', 'isq', 'a', 'abcdefghi']) {
    for (let i = 1; i <= 64; i++) {
      const m = sessionMac(dial, i);
      assert.match(m, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      const b0 = Number.parseInt(m.slice(0, 2), 16);
      assert.equal(b0 & 0x02, 0x02, `${m}: locally administered`);
      assert.equal(b0 & 0x01, 0, `${m}: unicast`);
      assert.equal(sessionMac(dial, i), m, 'the same after a restart');
      assert.ok(!seen.has(m), `${m} is unique`);
      seen.add(m);
    }
  }
});

test('dial schedule: sync dials every session at once, stagger one every interval', () => {
  assert.deepEqual(dialOffsets('sync', 4, 200), [0, 0, 0, 0]);
  assert.deepEqual(dialOffsets('stagger', 4, 200), [0, 200, 400, 600]);
  assert.deepEqual(dialOffsets('stagger', 1, 5000), [0]);
});

test('backoff: 5 s doubling to 5 min; reset only after a stable period up', () => {
  const b = new Backoff(5000, 300_000, 60_000);
  const waits = Array.from({ length: 9 }, (_, i) => b.fail(i));
  assert.deepEqual(waits, [5000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  // Up briefly: the next failure keeps doubling (a flapping session is not redialled fast).
  b.up(1000);
  assert.equal(b.fail(1000 + 59_999), 300_000);
  // Up for the stable period: start over.
  b.up(200_000);
  assert.equal(b.fail(260_000), 5000);
  assert.equal(b.fail(260_001), 10_000);
  assert.throws(() => new Backoff(0, 10), RangeError);
  assert.throws(() => new Backoff(10, 5), RangeError);
});

test('session: down → dialling → up → down (lost) → up → failed (ended, redial after backoff)', () => {
  const s = new Session({ min: 5000, max: 300_000 }, 0, 60_000);
  assert.equal(s.snapshot.state, 'down');
  assert.equal(s.snapshot.attempts, 0);
  assert.ok(s.apply({ kind: 'dial' }, 10));
  assert.deepEqual([s.snapshot.state, s.snapshot.attempts], ['dialling', 1]);
  const lease = { address: '198.18.64.10', prefixLen: 24, router: '198.18.64.1' };
  assert.ok(s.apply({ kind: 'lease', lease }, 100));
  assert.deepEqual([s.snapshot.state, s.snapshot.upSince, s.snapshot.lease], ['up', 100, lease]);
  assert.equal(s.apply({ kind: 'lease', lease: { ...lease } }, 200), false, 'a renewal with the same lease changes nothing');
  assert.ok(s.apply({ kind: 'lost', error: 'carrier lost' }, 300));
  assert.deepEqual([s.snapshot.state, s.snapshot.lastError, s.snapshot.lease], ['down', 'carrier lost', undefined]);
  assert.ok(s.apply({ kind: 'lease', lease }, 400));
  assert.equal(s.snapshot.state, 'up');
  assert.ok(s.apply({ kind: 'ended', error: 'the DHCP client exited (status 1)' }, 500));
  assert.deepEqual([s.snapshot.state, s.snapshot.nextDialAt, s.snapshot.lastError], ['failed', 5500, 'the DHCP client exited (status 1)']);
  assert.equal(s.apply({ kind: 'lease', lease }, 600), false, 'a late report from the ended client is ignored');
  assert.equal(s.apply({ kind: 'ended', error: 'again' }, 600), false, 'ending twice is one failure');
  s.apply({ kind: 'dial' }, 5500);
  s.apply({ kind: 'ended', error: 'authentication failed' }, 5600);
  assert.equal(s.snapshot.nextDialAt, 5600 + 10_000, 'the second failure in a row waits twice as long');
  assert.equal(s.snapshot.attempts, 2);
  assert.equal(s.consecutiveFailures, 2);
});

test('bounded lines: split at newlines across chunks; an overlong line is cut at the bound and the rest counted', async () => {
  const { BoundedLines } = await import('../../../src/dial/lines.js');
  const got: string[] = [];
  const b = new BoundedLines((l) => got.push(l), 8);
  b.push('ab');
  b.push('c\nde');
  b.push('f\n0123456789abcdef');
  b.push('ghij\nok\n');
  assert.deepEqual(got, ['abc', 'def', '01234567', 'ok']);
  assert.equal(b.dropped, 8 + 4);
});
