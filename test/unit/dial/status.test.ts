import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialMetricFamilies, formatDialStatus, type DialStatus } from '../../../src/dial/status.js';
import { formatMetrics } from '../../../src/status/metrics.js';

test('dial status: the total, then one row per session with state, address, uptime, attempts and the last error in words', () => {
  const now = Date.parse('2026-12-08T01:00:00Z');
  const d: DialStatus = {
    name: 'isp',
    parent: 'eth1',
    method: 'dhcp',
    total: 2,
    up: 1,
    sessions: [
      { index: 1, link: 'isp1', macvlan: 'wbm-isp1', mac: '02:aa:bb:cc:dd:01', state: 'up', since: '2026-12-08T00:57:50Z', address: '198.18.64.11/24', router: '198.18.64.1', uptimeMs: 130_000, attempts: 1, pid: 42 },
      { index: 2, link: 'isp2', macvlan: 'wbm-isp2', mac: '02:aa:bb:cc:dd:02', state: 'failed', since: '2026-12-08T00:59:59Z', attempts: 3, lastError: 'the macvlan wbm-isp2 went away', nextDialAt: '2026-12-08T01:00:04Z' },
    ],
  };
  const metrics = formatMetrics(dialMetricFamilies([d]));
  assert.match(metrics, /^wanbraid_dial_sessions\{dial="isp"\} 2$/m);
  assert.match(metrics, /^wanbraid_dial_sessions_up\{dial="isp"\} 1$/m);
  assert.match(metrics, /^wanbraid_dial_session_up\{dial="isp",link="isp2"\} 0$/m);
  assert.match(metrics, /^wanbraid_dial_session_attempts_total\{dial="isp",link="isp2"\} 3$/m);
  const text = formatDialStatus([d], now);
  const lines = text.split('\n');
  assert.equal(lines[0], 'dial isp: 1/2 sessions up (dhcp on eth1)');
  assert.match(lines[1]!, /^SESSION\s+MACVLAN\s+STATE\s+SINCE\s+ADDRESS\s+UPTIME\s+ATTEMPTS\s+LAST ERROR$/);
  assert.match(lines[2]!, /^isp1\s+wbm-isp1\s+up\s+2m10s\s+198\.18\.64\.11\/24\s+2m10s\s+1\s+-$/);
  assert.match(lines[3]!, /^isp2\s+wbm-isp2\s+failed \(redial in 4s\)\s+1s\s+-\s+-\s+3\s+the macvlan wbm-isp2 went away$/);
});
