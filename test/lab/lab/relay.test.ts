/**
 * The relay lab on the real kernel: data passes end to end through each hop, the user reaches the
 * target only through a relay (or a route a test adds), and faults on a path act in its hop.
 *
 *  user ── entry ═╦═ hop1 (198.18.11.2) ═╗
 *                 ╚═ hop2 (198.18.12.2) ═╩═ exit (198.19.0.20) ── target (198.19.0.10)
 *
 * Path K is picked in the entry with a source address and a per-test route (from 198.18.(10+K).1
 * → table 110+K → 198.19.0.0/24 via hopK).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RelayLab } from '../../../src/lab/lab.js';
import { pings, client, linkFlags, recovers } from './helpers.js';

let lab: RelayLab;
before(async () => {
  lab = await RelayLab.up({ rates: ['40mbit', { down: '8mbit', up: '8mbit' }] });
  for (const p of lab.addr.paths) {
    const table = String(110 + p.index);
    await lab.ip('entry', [
      `route add ${lab.addr.relay.targetPrefix4} via ${p.hop4} dev ${p.hop} table ${table}`,
      `route add ${lab.addr.relay.targetPrefix6} via ${p.hop6} dev ${p.hop} table ${table}`,
      `rule add from ${p.entry4} lookup ${table}`,
    ]);
    await lab.exec('entry', ['ip', '-6', 'rule', 'add', 'from', p.entry6, 'lookup', table]);
  }
});
after(async () => {
  await lab?.down();
});

const path = (k: number) => lab.addr.paths[k - 1]!;

async function txBytes(node: string, dev: string): Promise<number> {
  const r = await lab.exec(node, ['ip', '-j', '-s', 'link', 'show', 'dev', dev]);
  return (JSON.parse(r.stdout) as { stats64: { tx: { bytes: number } } }[])[0]!.stats64.tx.bytes;
}

test('the user reaches the entry but not the target: traffic must go through the relay', async () => {
  const { relay } = lab.addr;
  assert.equal(await pings(lab, 'user', relay.user4, relay.entryUser4, 1), 1);
  assert.equal(await pings(lab, 'user', relay.user6, relay.entryUser6, 1), 1);
  assert.equal(await pings(lab, 'user', relay.user4, relay.target4, 1), 0);
  assert.equal(await pings(lab, 'entry', relay.entryUser4, relay.target4, 1), 0, 'the entry has no route of its own to the target');
});

test('data passes end to end through each hop, over IPv4 and IPv6, and only through that hop', async () => {
  const { relay } = lab.addr;
  for (const k of [1, 2]) {
    const p = path(k);
    const other = path(3 - k);
    assert.equal(await pings(lab, 'entry', p.entry4, relay.target4, 1), 1, `${p.name} v4 to target`);
    assert.equal(await pings(lab, 'entry', p.entry6, relay.target6, 1), 1, `${p.name} v6 to target`);
    assert.equal(await pings(lab, 'entry', p.entry4, relay.exit4, 1), 1, `${p.name} to the exit address`);
    const [mine0, other0] = [await txBytes(p.hop, 'exit'), await txBytes(other.hop, 'exit')];
    const s = await client(lab, 'entry', ['sink', relay.target4, '9001', '1000000', '--source', p.entry4, '--timeout', '10000']);
    assert.equal(s.code, 0, JSON.stringify(s.result));
    const [mine1, other1] = [await txBytes(p.hop, 'exit'), await txBytes(other.hop, 'exit')];
    assert.ok(mine1 - mine0 >= 1_000_000, `${p.hop} forwarded the megabyte (${mine1 - mine0} bytes)`);
    assert.ok(other1 - other0 < 100_000, `${other.hop} did not (${other1 - other0} bytes)`);
    const s6 = await client(lab, 'entry', ['sink', relay.target6, '9001', '200000', '--source', p.entry6, '--timeout', '10000']);
    assert.equal(s6.code, 0, JSON.stringify(s6.result));
  }
});

test('each hop shapes its path both ways', async () => {
  const q1 = (await lab.exec('hop1', ['tc', 'qdisc', 'show'])).stdout;
  assert.match(q1, /tbf \S+ dev entry root .*rate 40Mbit/);
  assert.match(q1, /tbf \S+ dev exit root .*rate 40Mbit/);
  assert.match((await lab.exec('hop2', ['tc', 'qdisc', 'show'])).stdout, /tbf \S+ dev exit root .*rate 8Mbit/);
  assert.doesNotMatch((await lab.exec('entry', ['tc', 'qdisc', 'show'])).stdout, /tbf/, 'the entry is not shaped itself');
});

test('carrier-down on a path: the entry\'s interface loses carrier, the other path still works; clear restores', async () => {
  await lab.fault('path1', { kind: 'carrier-down' });
  const flags = await linkFlags(lab, 'entry', 'hop1');
  assert.ok(flags.includes('NO-CARRIER') && !flags.includes('LOWER_UP'), flags.join(','));
  assert.equal(await pings(lab, 'entry', path(1).entry4, lab.addr.relay.target4, 1), 0);
  assert.equal(await pings(lab, 'entry', path(2).entry4, lab.addr.relay.target4, 1), 1);
  await lab.fault('path1', { kind: 'clear' });
  assert.ok((await linkFlags(lab, 'entry', 'hop1')).includes('LOWER_UP'));
  assert.ok(await recovers(lab, 'entry', path(1).entry4, lab.addr.relay.target4));
  assert.ok(await recovers(lab, 'entry', path(1).entry6, lab.addr.relay.target6));
});

test('blackhole on a hop: nothing reaches it or through it, but carrier and ARP/ND stay up; clear restores', async () => {
  const p = path(2);
  await lab.fault('hop2', { kind: 'blackhole' });
  await lab.exec('entry', ['ip', 'neigh', 'flush', 'dev', p.hop]);
  assert.equal(await pings(lab, 'entry', p.entry4, p.hop4, 2), 0, 'the hop itself is silent');
  assert.equal(await pings(lab, 'entry', p.entry6, p.hop6, 2), 0);
  assert.equal(await pings(lab, 'entry', p.entry4, lab.addr.relay.target4, 1), 0);
  const neigh = JSON.parse((await lab.exec('entry', ['ip', '-j', 'neigh', 'show', 'dev', p.hop])).stdout) as { dst: string; state: string[] }[];
  for (const addr of [p.hop4, p.hop6]) {
    const n = neigh.find((x) => x.dst === addr);
    assert.ok(n && !n.state.includes('FAILED') && !n.state.includes('INCOMPLETE'), `${addr} resolved: ${JSON.stringify(n)}`);
  }
  assert.ok((await linkFlags(lab, 'entry', p.hop)).includes('LOWER_UP'));
  assert.equal(await pings(lab, 'entry', path(1).entry4, lab.addr.relay.target4, 1), 1, 'path1 unaffected');
  await lab.fault(2, { kind: 'clear' });
  assert.ok(await recovers(lab, 'entry', p.entry4, lab.addr.relay.target4));
});

test('loss 100% on a path drops everything through it', async () => {
  await lab.fault('path1', { kind: 'loss', pct: 100 });
  assert.equal(await pings(lab, 'entry', path(1).entry4, lab.addr.relay.target4, 3), 0);
  await lab.fault('path1', { kind: 'clear' });
  assert.ok(await recovers(lab, 'entry', path(1).entry4, lab.addr.relay.target4));
});
