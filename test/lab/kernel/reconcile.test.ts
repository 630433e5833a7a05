/**
 * The routing reconciler against the real kernel, in a scratch namespace:
 *
 *   r: wan1 198.18.1.1/24 2001:db8:1::1/64 ── veth ── (p)
 *      wan2 198.18.2.1/24 2001:db8:2::1/64 ── veth ── (p)
 *
 * First run creates, a second run changes nothing (what the kernel reports back equals the
 * plan), a gateway change is a replace in place, a bucket change recreates the group and puts
 * the default route back, a foreign route holding one of our keys is a reported conflict, and
 * clearing removes every owned object while foreign ones stay byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NamespaceSet } from '../../../src/lab/netns.js';
import { Driver, opsModulePath } from '../harness/remote.js';
import { softwareRoutes6 } from '../harness/ip.js';
import type { ReconcileReport } from '../../../src/kernel/reconcile-run.js';

const config = (gw1 = '198.18.1.254', buckets = 128) => ({
  links: [
    { name: 'wan1', interface: 'wan1', gateway: [gw1, '2001:db8:1::254'], weight: 3 },
    { name: 'wan2', interface: 'wan2', gateway: ['198.18.2.254', '2001:db8:2::254'], weight: 1 },
  ],
  routing: { buckets },
});

test('reconcile: create, no-op, replace in place, recreate, conflicts, clear; foreign objects untouched', async () => {
  const set = await NamespaceSet.create(['r', 'p']);
  try {
    const lines = ['wan1', 'wan2'].flatMap((w, i) => [
      `link add ${w} type veth peer name p${w}`,
      `link set p${w} netns ${set.ns('p')}`,
      `link set ${w} up`,
      `addr add 198.18.${i + 1}.1/24 dev ${w}`,
      `addr add 2001:db8:${i + 1}::1/64 dev ${w} nodad`,
    ]);
    await set.ip('r', lines);
    await set.ip('p', ['link set pwan1 up', 'link set pwan2 up']);
    // Foreign: a route in our link table, one holding the key of wan2's default route, a rule in
    // our priority range, a nexthop inside our id range.
    await set.ip('r', [
      'route add 198.19.200.0/24 via 198.18.1.254 dev wan1 table 20101 proto static',
      'route add default via 198.18.2.200 dev wan2 table 20102 proto static',
      'rule add pref 20150 from 198.18.100.99 lookup 100 proto static',
      'nexthop add id 87000150 via 198.18.1.254 dev wan1 proto static',
    ]);
    const dump = async () => {
      const ip = async (...a: string[]) => (await set.exec('r', ['ip', ...a])).stdout;
      // The kernel adds link-local and local entries on its own schedule (carrier via linkwatch,
      // then DAD): compare only what software installs.
      const t6 = softwareRoutes6(await ip('-6', 'route', 'show', 'table', 'all'));
      return { r4: await ip('-4', 'rule'), r6: await ip('-6', 'rule'), t4: await ip('-4', 'route', 'show', 'table', 'all'), t6, nh: await ip('nexthop') };
    };
    const before = await dump();
    const d = await Driver.start(set, 'r', opsModulePath(import.meta.url, './reconcile-ops.js'));
    const run = (cfg: unknown, offline: string[] = []) => d.call<ReconcileReport>('reconcile', { config: cfg, offline });
    const failed = (r: ReconcileReport) => r.results.filter((x) => !x.ok).map((x) => `${x.op} ${x.object}`);

    const first = await run(config());
    assert.equal(failed(first).length, 1);
    assert.match(failed(first)[0]!, /^conflict default via 198\.18\.2\.254 dev #\d+ table 20102 proto 87/);
    assert.match(first.results.find((x) => x.op === 'conflict')!.detail!, /foreign route .*via 198\.18\.2\.200.*left alone/);
    assert.ok(first.results.filter((x) => x.ok).every((x) => x.op === 'add'));
    const now = await dump();
    assert.match(now.nh, /id 87000004 group 87000101,3\/87000102 type resilient buckets 128/);
    assert.match(now.t4, /default nhid 87000004 table 20100 proto 87/);
    assert.match(now.t6, /default via 2001:db8:1::254 dev wan1 table 20101 proto 87/);

    const second = await run(config());
    assert.deepEqual(second.results.map((x) => x.op), ['conflict'], 'nothing else to do: the kernel matches the plan');

    const moved = await run(config('198.18.1.253'));
    assert.deepEqual(
      moved.results.filter((x) => x.op !== 'conflict').map((x) => `${x.op} ${x.object.split(' ').slice(0, 4).join(' ')}`).sort(),
      ['replace default via 198.18.1.253 dev', 'replace id 87000101 via 198.18.1.253'],
    );

    const rebucket = await run(config('198.18.1.253', 64));
    assert.ok(rebucket.results.some((x) => x.op === 'recreate' && x.object.startsWith('id 87000004') && x.ok));
    assert.ok(rebucket.results.some((x) => x.op === 'add' && x.object.startsWith('default nhid 87000004') && x.ok), 'the default route comes back');
    assert.match((await dump()).nh, /id 87000004 group 87000101,3\/87000102 type resilient buckets 64/);

    const down = await run(config('198.18.1.253', 64), ['wan2']);
    assert.deepEqual(down.results.filter((x) => x.op !== 'conflict').map((x) => `${x.op} ${x.object.split(' ').slice(0, 4).join(' ')}`), ['replace id 87000004 group 87000101', 'replace id 87000006 group 87000201']);

    const cleared = await d.call<ReconcileReport>('clear', {});
    assert.ok(cleared.results.every((x) => x.op === 'delete' && x.ok));
    assert.deepEqual(await dump(), before, 'only the foreign objects are left, unchanged');
    await d.stop();
  } finally {
    await set.destroy();
  }
});
