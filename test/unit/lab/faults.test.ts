import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFault, faultCommands, parseFaultState, formatFaultState, formatFault, type FaultTarget } from '../../../src/lab/faults.js';

const isp: FaultTarget = { link: 'wan2', index: 2, node: 'isp2', carrierDev: 'router', farDev: 'inet', blackholeScope: 'forward' };
const hop: FaultTarget = { link: 'path1', index: 1, node: 'hop1', carrierDev: 'entry', farDev: 'exit', blackholeScope: 'all' };

test('the CLI words become faults', () => {
  assert.deepEqual(parseFault(['blackhole']), { kind: 'blackhole' });
  assert.deepEqual(parseFault(['loss', '10']), { kind: 'loss', pct: 10 });
  assert.deepEqual(parseFault(['loss', '2.5%']), { kind: 'loss', pct: 2.5 });
  assert.deepEqual(parseFault(['carrier-down']), { kind: 'carrier-down' });
  assert.deepEqual(parseFault(['clear']), { kind: 'clear' });
  assert.equal(formatFault({ kind: 'loss', pct: 2.5 }), 'loss 2.5%');
});

test('bad fault words are refused and say what is expected', () => {
  assert.throws(() => parseFault([]), /missing fault: expected one of blackhole, loss PCT/);
  assert.throws(() => parseFault(['loss']), /missing percentage/);
  assert.throws(() => parseFault(['loss', '101']), /not a percentage from 0 to 100/);
  assert.throws(() => parseFault(['loss', 'ten']), /"ten" is not a percentage/);
  assert.throws(() => parseFault(['loss', '1.234']), /more than two decimals/);
  assert.throws(() => parseFault(['blackhole', 'now']), /unexpected argument "now"/);
  assert.throws(() => parseFault(['flap']), /unknown fault "flap"/);
});

test('an ISP blackhole drops what it forwards; a hop blackhole everything but neighbour discovery', () => {
  const a = faultCommands(isp, { kind: 'blackhole' });
  assert.match(a.nft!, /add chain inet lab_faults blackhole \{ type filter hook forward priority -300; policy accept; \}/);
  assert.match(a.nft!, /flush chain inet lab_faults blackhole\nadd rule inet lab_faults blackhole counter drop comment "blackhole"\n$/);
  assert.equal(a.ip, undefined);
  const b = faultCommands(hop, { kind: 'blackhole' });
  assert.match(b.nft!, /hook prerouting/);
  assert.match(b.nft!, /icmpv6 type \{[^}]*nd-neighbor-solicit[^}]*\} accept/);
  assert.ok(b.nft!.indexOf('accept') < b.nft!.indexOf('drop'), 'ND is accepted before the drop');
});

test('loss is a random drop in basis points on everything entering the middle node, ND spared', () => {
  const c = faultCommands(isp, { kind: 'loss', pct: 2.5 });
  assert.match(c.nft!, /hook prerouting priority -300/);
  assert.match(c.nft!, /numgen random mod 10000 < 250 counter drop comment "loss 2.5"/);
  assert.match(faultCommands(isp, { kind: 'loss', pct: 100 }).nft!, /accept\nadd rule inet lab_faults loss counter drop comment "loss 100"\n$/);
  assert.match(faultCommands(isp, { kind: 'loss', pct: 99.99 }).nft!, /< 9999 /);
  assert.match(faultCommands(isp, { kind: 'loss', pct: 0 }).nft!, /< 0 /);
  assert.throws(() => faultCommands(isp, { kind: 'loss', pct: -1 }), /not a percentage/);
});

test('carrier faults set the middle node\'s near interface; clear removes everything in one batch', () => {
  assert.deepEqual(faultCommands(isp, { kind: 'carrier-down' }), { ip: ['link set dev router down'] });
  assert.deepEqual(faultCommands(hop, { kind: 'carrier-up' }), { ip: ['link set dev entry up'] });
  assert.deepEqual(faultCommands(isp, { kind: 'clear' }), { nft: 'add table inet lab_faults\ndelete table inet lab_faults\n', ip: ['link set dev router up'] });
});

test('fault state is read back from nft and ip JSON', () => {
  const nft = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { table: { family: 'inet', name: 'lab_faults' } },
      { rule: { chain: 'loss', comment: 'loss 10.5', expr: [] } },
      { rule: { chain: 'blackhole', comment: 'blackhole', expr: [] } },
      { rule: { chain: 'loss', expr: [] } },
    ],
  });
  const up = JSON.stringify([{ ifname: 'router', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'] }]);
  const down = JSON.stringify([{ ifname: 'router', flags: ['BROADCAST', 'MULTICAST'] }]);
  assert.deepEqual(parseFaultState(nft, up), { blackhole: true, lossPct: 10.5, carrier: true });
  assert.deepEqual(parseFaultState('', down), { blackhole: false, lossPct: null, carrier: false });
  assert.equal(formatFaultState({ blackhole: true, lossPct: 10.5, carrier: false }), 'carrier-down, blackhole, loss 10.5%');
  assert.equal(formatFaultState({ blackhole: false, lossPct: null, carrier: true }), 'none');
});
