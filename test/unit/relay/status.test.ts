/** The relay section of `wanbraid status`: one line per entry/exit, one row per path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatRelayStatus, formatBytes, formatRate, type RelayStatus, type RelayPathStatus } from '../../../src/relay/status.js';

const path = (over: Partial<RelayPathStatus>): RelayPathStatus => ({
  name: 'wan1',
  state: 'up',
  remote: '198.19.0.20:7000',
  txBps: 0,
  rxBps: 0,
  txBytes: 0,
  rxBytes: 0,
  resentChunks: 0,
  inflight: 0,
  cap: 65536,
  deliveryBps: 0,
  forMs: 0,
  ...over,
});

const counters = { flows: 3, opening: 1, reorderBytes: 1048576, reorderLimit: 4194304, unackedBytes: 2097152, resentChunks: 12, duplicateChunks: 2 };

test('entries, exit sessions and forwards render as tables with units', () => {
  const s: RelayStatus = {
    entries: [
      {
        name: 'bulk',
        listen: '198.18.200.1:30000',
        target: '198.19.0.10:5201',
        exit: '198.19.0.20:7000',
        accepted: 42,
        ...counters,
        paths: [
          path({ name: 'wan1', rttMs: 23.4, deliveryBps: 40_100_000, txBps: 38_500_000, rxBps: 1_200_000, txBytes: 5 * 2 ** 30, rxBytes: 300 * 2 ** 20, resentChunks: 12, forMs: 3_723_000 }),
          path({ name: 'wan2', state: 'unused', reason: 'link wan2 is offline', forMs: 65_000 }),
        ],
      },
    ],
    exit: {
      listen: '0.0.0.0:7000',
      refused: 1,
      rejected: 4,
      connectFailed: 0,
      tests: { running: 0, served: 0, enabled: false },
      sessions: [{ entry: 'bulk', session: 'a1b2c3d4', ...counters, paths: [path({ name: 'wan1', remote: '198.18.1.1:40000', rttMs: 5.25 })] }],
    },
    forwards: [{ name: 'hop', listen: '0.0.0.0:7001', to: '198.19.0.20:7000', connections: 2, bytes: 1536 }],
  };
  assert.equal(
    formatRelayStatus(s),
    [
      'relay entry bulk: 198.18.200.1:30000 → 198.19.0.10:5201 via exit 198.19.0.20:7000, 1/2 paths up, 42 connections accepted',
      "  flows 3 (1 opening), reorder 1.0MiB (25% of one flow's 4.0MiB), unacked 2.0MiB, resent 12 chunks, duplicates dropped 2",
      '    PATH  STATE                         RTT   CAPACITY  TX        RX         SENT    RECEIVED  RESENT  FOR',
      '    wan1  up                            23ms  40Mbit/s  39Mbit/s  1.2Mbit/s  5.0GiB  300MiB    12      1h2m',
      '    wan2  unused: link wan2 is offline  -     -         0bit/s    0bit/s     0B      0B        0       1m5s',
      'relay exit: 0.0.0.0:7000, 1 session, refused 1 opens, rejected 4 connections, 0 target connects failed',
      "  session a1b2c3d4 from entry bulk: flows 3 (1 opening), reorder 1.0MiB (25% of one flow's 4.0MiB), unacked 2.0MiB, resent 12 chunks, duplicates dropped 2",
      '      PATH  STATE  RTT    CAPACITY  TX      RX      SENT  RECEIVED  RESENT  FOR',
      '      wan1  up     5.3ms  -         0bit/s  0bit/s  0B    0B        0       0s',
      'forwards:',
      '  NAME  LISTEN        TO                CONNECTIONS  BYTES',
      '  hop   0.0.0.0:7001  198.19.0.20:7000  2            1.5KiB',
    ].join('\n'),
  );
});

test('nothing configured renders as an empty string', () => {
  assert.equal(formatRelayStatus({ entries: [], exit: undefined, forwards: [] }), '');
});

test('units', () => {
  assert.equal(formatBytes(0), '0B');
  assert.equal(formatBytes(1023), '1023B');
  assert.equal(formatBytes(1024), '1.0KiB');
  assert.equal(formatBytes(15 * 2 ** 20), '15MiB');
  assert.equal(formatRate(999), '999bit/s');
  assert.equal(formatRate(40e6), '40Mbit/s');
  assert.equal(formatRate(1.25e9), '1.3Gbit/s');
});
