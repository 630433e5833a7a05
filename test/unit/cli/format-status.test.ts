/** The human status table: health and balancing columns, overrides, failing targets, warnings, relay. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../../src/cli/format-status.js';
import type { StatusObject } from '../../../src/status/types.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const iso = (agoMs: number) => new Date(NOW - agoMs).toISOString();

function status(extra: Partial<StatusObject> = {}): StatusObject {
  return {
    version: '0.1.0',
    pid: 42,
    startedAt: iso(3_600_000),
    config: { file: '/etc/wanbraid/wanbraid.yaml', loadedAt: iso(60_000) },
    links: [
      {
        name: 'wan1',
        interface: 'eth1',
        state: 'online',
        since: iso(125_000),
        reason: '3 probe rounds answered (up after 3)',
        reasonKind: 'probes-ok',
        weight: 5,
        configuredWeight: 5,
        rttMs: 12.34,
        lossPct: 0,
        jitterMs: 1.5,
        targets: [
          { target: '198.19.0.1', last: { ok: true, rttMs: 12 } },
          { target: '198.19.0.2', last: { ok: true, rttMs: 13 } },
        ],
        balance: { inUse: true, newFlows: 300, newFlowShare: 0.75, bytes: 3 * 1024 * 1024, byteShare: 0.6 },
      },
      {
        name: 'wan2',
        interface: 'ppp0',
        state: 'disabled',
        since: iso(5_000),
        reason: 'operator: down',
        reasonKind: 'manual',
        weight: 0,
        configuredWeight: 3,
        targets: [
          { target: '198.19.0.1', last: { ok: false, error: 'timeout' } },
          { target: '198.19.0.2', last: { ok: true, rttMs: 30 } },
        ],
        override: { action: 'down', source: 'operator', since: iso(5_000) },
        balance: { inUse: false, newFlows: 100, newFlowShare: 0.25, bytes: 2 * 1024 * 1024, byteShare: 0.4 },
      },
    ],
    ...extra,
  };
}

test('one row per link with health and balancing side by side; overrides and weights in effect are visible', () => {
  const text = formatStatus(status(), NOW);
  const lines = text.split('\n');
  assert.match(lines[0]!, /^wanbraid 0\.1\.0, pid 42, up 1h00m, config \/etc\/wanbraid\/wanbraid\.yaml \(loaded 1m00s ago\)$/);
  assert.match(text, /^LINK\s+DEVICE\s+STATE\s+SINCE\s+RTT\s+LOSS\s+JITTER\s+TARGETS\s+WEIGHT\s+FLOWS\s+BYTES\s+REASON$/m);
  assert.match(text, /^wan1\s+eth1\s+online\s+2m05s\s+12\.3ms\s+0\.0%\s+1\.5ms\s+2\/2\s+5\s+300 \(75\.0%\)\s+3\.0MiB \(60\.0%\)\s+3 probe rounds answered/m);
  assert.match(text, /^wan2\s+ppp0\s+disabled \[operator down\]\s+5s\s+-\s+-\s+-\s+1\/2\s+0\/3\s+100 \(25\.0%\)/m);
  assert.match(text, /failing targets:\n {2}wan2 198\.19\.0\.1: timeout/);
});

test('plan outcome, warnings and the relay section appear when the daemon has them', () => {
  const text = formatStatus(
    status({
      balancer: { lastApply: { at: iso(2000), ok: false, durationMs: 31, failures: ['route add default table 20101: ENETUNREACH'] }, warnings: ['wan3 is online with weight 2 but carried no new flow for 90s while other links did'] },
      relay: { entries: [], exit: undefined, forwards: [{ name: 'hop', listen: '0.0.0.0:7001', to: '198.19.0.20:7000', connections: 2, bytes: 2048 }] },
    }),
    NOW,
  );
  assert.match(text, /^plan: last applied 2s ago in 31 ms, with failures: route add default table 20101: ENETUNREACH$/m);
  assert.match(text, /^warning: wan3 is online with weight 2 but carried no new flow/m);
  assert.match(text, /^forwards:$/m);
  assert.match(text, /hop\s+0\.0\.0\.0:7001\s+198\.19\.0\.20:7000\s+2\s+2\.0KiB/);
});

test('no links: said plainly', () => {
  assert.match(formatStatus(status({ links: [] }), NOW), /^no links configured$/m);
});

const ESC = String.fromCharCode(0x1b);

test('a failing plan: "plan failed: …" with the retry, in red only when asked for colour', () => {
  const plan = {
    state: 'failed',
    since: iso(12_000),
    failures: ['nft replace-table: nft batch refused: exit 1', 'a', 'b', 'c'],
    consecutiveFailures: 5,
    failuresTotal: 7,
    nextRetryAt: new Date(NOW + 8_000).toISOString(),
  };
  const balancer = { lastApply: { at: iso(1000), ok: false, durationMs: 12, failures: ['nft replace-table: nft batch refused: exit 1'] }, warnings: [] };
  const plain = formatStatus(status({ balancer, plan }), NOW);
  assert.match(plain, /^plan failed: nft replace-table: nft batch refused: exit 1; a; b; and 1 more \(5 failed applies in a row since 12s ago, next retry in 8s\)$/m);
  assert.equal(plain.includes(ESC), false);
  assert.doesNotMatch(plain, /^plan: last applied/m, 'the failure replaces the last-apply line');
  const red = formatStatus(status({ balancer, plan }), NOW, { color: true });
  const line = red.split('\n').find((l) => l.includes('plan failed: '));
  assert.ok(line?.startsWith(`${ESC}[31mplan failed: `) && line.endsWith(`${ESC}[0m`), line);
  // Recovered: the usual line, no colour.
  const ok = formatStatus(status({ balancer: { ...balancer, lastApply: { ...balancer.lastApply, ok: true, failures: [] } }, plan: { ...plan, state: 'ok', failures: [], consecutiveFailures: 0 } }), NOW, { color: true });
  assert.match(ok, /^plan: last applied 1s ago in 12 ms, ok$/m);
  assert.equal(ok.includes(ESC), false);
});

test('the passive signal: a line per link that has been suspect, with outcomes and the last suspicion; none otherwise', () => {
  const quiet = formatStatus(status(), NOW);
  assert.doesNotMatch(quiet, /passive signal/);
  const st = status();
  st.links[0]!.passive = { enabled: true, state: 'watching', thresholdMs: 600, backoff: 1, suspicions: 3, confirmed: 1, cleared: 2, last: { at: iso(120_000), silenceMs: 320, thresholdMs: 300, txPackets: 80, outcome: 'cleared', detail: '2 of 2 targets answered the burst' } };
  st.links[1]!.passive = { enabled: true, state: 'idle', thresholdMs: 300, backoff: 0, suspicions: 0, confirmed: 0, cleared: 0 };
  const text = formatStatus(st, NOW);
  assert.match(text, /passive signal \(traffic out, nothing in\):\n {2}wan1: 3 suspicions \(1 confirmed, 2 cleared\), threshold 600 ms; last 2m00s ago: silent 320 ms, cleared \(2 of 2 targets answered the burst\)$/m);
  assert.doesNotMatch(text, /^ {2}wan2:/m);
});
