/** One probe in flight: settles once, always clears its timer, runs cleanup once. */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Attempt, errorText } from '../../../../src/health/probers/attempt.js';
import { NativeCallError } from '../../../../src/native/errors.js';

test('a timeout settles as failure "timeout", runs cleanup once, and later outcomes are ignored', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let cleanups = 0;
    const a = new Attempt(1000, () => cleanups++);
    mock.timers.tick(999);
    assert.equal(a.settled, false);
    mock.timers.tick(1);
    assert.equal(a.settled, true);
    a.succeed();
    a.fail('late');
    assert.deepEqual(await a.promise, { ok: false, error: 'timeout' });
    assert.equal(cleanups, 1);
  } finally {
    mock.timers.reset();
  }
});

test('success reports a round-trip time and clears the timer', async () => {
  const a = new Attempt(60_000);
  a.succeed();
  const r = await a.promise;
  assert.equal(r.ok, true);
  assert.ok(r.ok && r.rttMs >= 0 && r.rttMs < 1000);
  // No timer is left: the process would otherwise stay up for a minute after this file.
  assert.equal(process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length, 0);
});

test('errors are shortened to their errno-style code when they have one', () => {
  assert.equal(errorText(Object.assign(new Error('connect ENETUNREACH 198.19.0.1:443'), { code: 'ENETUNREACH', errno: -101 })), 'ENETUNREACH');
  assert.equal(errorText(new NativeCallError('send', Object.assign(new Error('sendto: Network is unreachable'), { code: 'ENETUNREACH' }))), 'ENETUNREACH');
  assert.equal(errorText(Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })), 'self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)');
  assert.equal(errorText('plain'), 'plain');
});
