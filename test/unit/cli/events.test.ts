/** `wanbraid events` lines for people: link changes and the passive signal's suspicions and outcomes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { human } from '../../../src/cli/commands/events.js';

const time = '2026-12-08T01:02:03.456Z';

test('passive events: suspect, cleared (by the burst, by traffic), confirmed', () => {
  assert.equal(
    human({ event: 'passive', time, link: 'wan1', kind: 'suspect', at: time, silenceMs: 310, thresholdMs: 300, txPackets: 62, probes: 6 }),
    '01:02:03.456 passive wan1: suspect, 62 packets out and nothing in for 310 ms (threshold 300 ms); burst of 6 probes',
  );
  assert.equal(human({ event: 'passive', time, link: 'wan1', kind: 'cleared', by: 'probes', answered: 2, sent: 2, backoff: 1 }), '01:02:03.456 passive wan1: cleared by the burst (2 targets answered)');
  assert.equal(human({ event: 'passive', time, link: 'wan1', kind: 'cleared', by: 'traffic', answered: 0, sent: 6, backoff: 1 }), '01:02:03.456 passive wan1: cleared by traffic coming back');
  assert.equal(human({ event: 'passive', time, link: 'wan2', kind: 'confirmed', lost: 6, sent: 6 }), '01:02:03.456 passive wan2: confirmed, 6/6 burst probes lost');
});

test('link changes keep their line', () => {
  assert.equal(human({ event: 'link', time, link: 'wan2', prev: 'online', state: 'offline', reason: 'traffic silent for 310 ms (threshold 300 ms), 6/6 burst probes lost' }), '01:02:03.456 link wan2: online → offline (traffic silent for 310 ms (threshold 300 ms), 6/6 burst probes lost)');
});
