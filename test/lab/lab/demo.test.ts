/**
 * `wanbraid lab demo`, run as the library the CLI calls: every step happens, the failover cuts
 * exactly the held connections pinned to wan1 (every other one still answers), and the host is as
 * it was afterwards.
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
  // 60 held connections, each with the link the router's conntrack entry put it on.
  const held = r.held.connections;
  const show = JSON.stringify(held);
  assert.equal(held.length, 60, show);
  assert.equal(r.held.opened, 60);
  for (const c of held) {
    assert.ok(c.link === 'wan1' || c.link === 'wan2' || c.link === 'wan3', `connection from port ${c.localPort} has a link: ${show}`);
    assert.equal(c.open, 'echoed', `every connection answered before the fault: ${show}`);
  }
  // Every held connection not pinned to the blackholed link still answers ...
  const healthy = held.filter((c) => c.link !== 'wan1');
  const dead = held.filter((c) => c.link === 'wan1');
  for (const c of healthy) assert.equal(c.later, 'echoed', `${c.link} connection from port ${c.localPort} still answers: ${show}`);
  // ... and, as the positive control, none pinned to it does (P(no connection on wan1) = 0.5^60).
  assert.ok(dead.length > 0 && healthy.length > 0, show);
  for (const c of dead) assert.notEqual(c.later, 'echoed', `wan1 connection from port ${c.localPort} was cut: ${show}`);
  assert.equal(r.held.survived, healthy.length, 'the count agrees with the connections');
  assert.equal(r.afterFailover.echoed, r.afterFailover.opened, 'every new connection succeeds after the failover');
  assert.ok(r.routerClean, 'the daemon removed its kernel state on stop');
  assert.ok(r.hostUnchanged, '`ip netns list` and `ip link` are as before');
  assert.match(text, /link wan1: online → offline/);
  assert.match(text, /link wan1: offline → online/);
});
