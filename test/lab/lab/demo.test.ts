/**
 * `wanbraid lab demo`, run as the library the CLI calls: every step happens, the failover moves
 * only wan1's flows, and the host is as it was afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demo } from '../../../src/lab/demo.js';

test('the demo: links online, flows spread, wan1 blackholed and back, nothing left behind', async () => {
  const lines: string[] = [];
  const r = await demo({ out: (t) => lines.push(t) });
  const text = lines.join('\n');
  for (const step of ['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']) assert.ok(text.includes(step), `step ${step} reported`);
  // 100 flows over weights 5:3:2: every link takes some.
  for (const l of ['wan1', 'wan2', 'wan3']) assert.ok((r.spread[l] ?? 0) > 0, `${l} carried new flows: ${JSON.stringify(r.spread)}`);
  // 60 held flows: those on wan1 were cut, the others kept answering (P(no flow on wan1) = 0.5^60).
  assert.ok(r.held.survived > 0 && r.held.survived < r.held.opened, JSON.stringify(r.held));
  assert.equal(r.afterFailover.echoed, r.afterFailover.opened, 'every new connection succeeds after the failover');
  assert.ok(r.routerClean, 'the daemon removed its kernel state on stop');
  assert.ok(r.hostUnchanged, '`ip netns list` and `ip link` are as before');
  assert.match(text, /link wan1: online → offline/);
  assert.match(text, /link wan1: offline → online/);
});
