/**
 * The whole daemon in the multi-WAN lab (bin/wanbraid run in the router namespace, the shipped
 * example config): health drives the kernel, the operator drives both through the socket and the
 * CLI, reloads apply, hooks run, metrics are served, and a stop (or a crash and a restart, then
 * a stop) leaves the router as it was.
 *
 *   client ── lan0 [router: wanbraid run] wan1..3 ── isp1..3 ── inet (198.19.0.1/.2 track IPs)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../../../src/lab/lab.js';
import { subscribe } from '../../../src/status/client.js';
import type { LinkStatus } from '../../../src/status/types.js';
import { DaemonProcess, statusOf } from '../harness/daemon.js';
import { becomes, defaultGroup, stateLine } from '../harness/router-view.js';

const EXAMPLE = readFileSync(new URL('../../../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');
const BIN = new URL('../../../../bin/wanbraid', import.meta.url).pathname;

/** Everything wanbraid may leave in a namespace: its rules, routes, nexthops, nft tables. */
async function leftovers(lab: Lab): Promise<string[]> {
  const r = await lab.exec('router', [
    'sh',
    '-c',
    'ip rule; ip -6 rule; ip route show table all proto 87; ip -6 route show table all proto 87; ip nexthop show; nft list tables',
  ]);
  return r.stdout.split('\n').filter((l) => l.trim() !== '' && !/^\d+:\s+from all lookup (local|main|default)\s*$/.test(l));
}

const cli = (args: string[]) => spawnSync(BIN, args, { encoding: 'utf8' });
const linkOf = (links: LinkStatus[], name: string) => links.find((l) => l.name === name)!;

const groupBecomes = (lab: Lab, want: Record<string, number>): Promise<void> => becomes(() => defaultGroup(lab), want);

test('health drives the kernel; link override, sets, reload, hooks and metrics over the socket; stop leaves nothing', async () => {
  const lab = await Lab.up({ links: 3 });
  let d: DaemonProcess | undefined;
  try {
    // Foreign state that must survive everything the daemon does.
    await lab.ip('router', ['rule add from 198.18.100.77 lookup 4242 priority 4242', 'route add 198.18.250.0/24 via 198.18.1.254 table 4242']);
    await lab.exec('router', ['nft', 'add table inet foreign']);
    const sysBefore = (await lab.exec('router', ['sysctl', '-n', 'net.ipv4.fib_multipath_hash_policy'])).stdout.trim();

    const hooks = join(lab.dir, 'hooks');
    mkdirSync(hooks);
    const hookOut = join(lab.dir, 'hook.log');
    writeFileSync(join(hooks, '10-record'), `#!/bin/sh\necho "$WANBRAID_LINK $WANBRAID_PREV $WANBRAID_STATE $WANBRAID_DEVICE" >> ${hookOut}\n`);
    chmodSync(join(hooks, '10-record'), 0o755);
    const config = `${EXAMPLE}\nhooks:\n  dir: ${hooks}\nmetrics:\n  listen: 127.0.0.1:9780\nrouting:\n  verifyInterval: 300ms\n`;
    // check --plan in the router, before anything runs: the plan from the real interfaces, and
    // nothing in the kernel changed by asking.
    const rulesUntouched = (await lab.exec('router', ['ip', 'rule'])).stdout;
    writeFileSync(join(lab.dir, 'plan.yaml'), config.replace('@SOCKET@', join(lab.dir, 'plan.sock')));
    const planned = await lab.exec('router', [process.execPath, BIN, 'check', '-c', join(lab.dir, 'plan.yaml'), '--plan', '--offline', 'wan3']);
    assert.match(planned.stdout, /^balanced IPv4: tier 1: wan1 5 \(62\.5%\), wan2 3 \(37\.5%\)$/m, 'wan3 previewed offline');
    assert.match(planned.stdout, /# ip route show table 20101 \(wan1\)\n198\.18\.1\.0\/24 dev wan1 .*\ndefault via 198\.18\.1\.254 dev wan1/);
    assert.match(planned.stdout, /"nftables"/);
    assert.equal((await lab.exec('router', ['ip', 'rule'])).stdout, rulesUntouched);
    assert.doesNotMatch((await lab.exec('router', ['nft', 'list', 'tables'])).stdout, /wanbraid/);

    d = await DaemonProcess.start(lab.ns('router'), config);
    const sock = d.socketPath;
    for (const l of ['wan1', 'wan2', 'wan3']) await d.waitForLog(stateLine(l, 'online'), 15_000);
    await groupBecomes(lab, { wan1: 5, wan2: 3, wan3: 2 });

    // The status object joins health and balancing per link.
    let st = statusOf(await d.request({ cmd: 'status' }));
    for (const l of st.links) {
      assert.equal(l.state, 'online');
      assert.equal(typeof l.rttMs, 'number', `${l.name} has an RTT`);
      assert.equal((l.targets as unknown[]).length, 2);
      assert.ok(l.balance && typeof (l.balance as { newFlows: unknown }).newFlows === 'number', `${l.name} has balancing counters`);
    }
    assert.equal((st.balancer as { lastApply: { ok: boolean } }).lastApply.ok, true);

    // A blackhole inside isp1: wan1 goes offline, the event is streamed, the group drops it.
    const events: Record<string, unknown>[] = [];
    const ac = new AbortController();
    const watching = (async () => {
      for await (const e of subscribe(sock, ac.signal)) events.push(e);
    })().catch(() => undefined);
    // The CLI's view of the same stream.
    const follower = spawn(BIN, ['events', '-s', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    follower.stdout.on('data', (b: Buffer) => (followed += b.toString()));
    // Both subscribed before the fault, or a slow start could miss the first change.
    await d.waitForLog((l) => l.msg === 'event subscriber added' && l.subscribers === 2, 10_000);
    let mark = d.logs.length;
    await lab.fault('wan1', { kind: 'blackhole' });
    await d.waitForLog(stateLine('wan1', 'offline'), 10_000, mark);
    await groupBecomes(lab, { wan2: 3, wan3: 2 });
    mark = d.logs.length;
    await lab.fault('wan1', { kind: 'clear' });
    await d.waitForLog(stateLine('wan1', 'online'), 10_000, mark);
    await groupBecomes(lab, { wan1: 5, wan2: 3, wan3: 2 });
    ac.abort();
    await watching;
    follower.kill('SIGINT');
    await new Promise((r) => follower.once('close', r));
    assert.match(followed, /link wan1: online → offline \(3 probe rounds failed/);
    assert.match(followed, /link wan1: offline → online/);
    assert.match(followed, /plan applied in [\d.]+ ms \(link wan1\)/);
    const linkEvents = events.filter((e) => e.event === 'link').map((e) => `${String(e.link)} ${String(e.prev)}→${String(e.state)}`);
    assert.deepEqual(linkEvents, ['wan1 online→offline', 'wan1 offline→online']);
    assert.ok(events.some((e) => e.event === 'plan' && e.ok === true));

    // Hooks ran for both changes, with the link's environment.
    await d.waitForLog((l) => l.msg === 'hook ran' && l.link === 'wan1' && l.prev === 'offline' && l.state === 'online', 10_000);
    const hookLines = () => readFileSync(hookOut, 'utf8').trim().split('\n');
    assert.ok(hookLines().includes('wan1 online offline wan1'), hookLines().join(' | '));
    assert.ok(hookLines().includes('wan1 offline online wan1'), hookLines().join(' | '));

    // The operator takes wan2 out (CLI), it leaves the group; auto gives it back.
    let r = cli(['link', 'wan2', 'down', '-s', sock]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^wan2: disabled/);
    await groupBecomes(lab, { wan1: 5, wan3: 2 });
    r = cli(['status', '-s', sock]);
    assert.match(r.stdout, /^wan2\s+wan2\s+disabled \[operator down\]/m);
    assert.equal(cli(['link', 'wan2', 'auto', '-s', sock]).status, 0);
    await groupBecomes(lab, { wan1: 5, wan2: 3, wan3: 2 });
    r = cli(['link', 'wan9', 'down', '-s', sock]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown link "wan9"/);
    r = cli(['link', 'wan2', 'sideways', '-s', sock]);
    assert.equal(r.status, 2);

    // Runtime set: add, visible in nft and in list; a bad prefix changes nothing.
    r = cli(['set', 'bypass', 'add', '198.19.0.99/32', '2001:db8:99::/48', '-s', sock]);
    assert.equal(r.status, 0, r.stderr);
    const nft = (await lab.exec('router', ['nft', 'list', 'table', 'inet', 'wanbraid'])).stdout;
    assert.match(nft, /198\.19\.0\.99/);
    assert.match(nft, /2001:db8:99::\/48/);
    r = cli(['set', 'bypass', 'add', '198.19.0.300', '-s', sock]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /"198\.19\.0\.300" is not an address or prefix/);
    r = cli(['set', 'bypass', 'list', '-s', sock]);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['198.19.0.99/32', '2001:db8:99::/48']);

    // Metrics, served in the router namespace.
    const m = await lab.exec('router', [process.execPath, '-e', "fetch('http://127.0.0.1:9780/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"]);
    assert.match(m.stdout, /^wanbraid_link_up\{link="wan1"\} 1$/m);
    assert.match(m.stdout, /^wanbraid_link_new_flows_total\{link="wan3"\} \d+$/m);
    assert.match(m.stdout, /^wanbraid_plan_apply_ok 1$/m);

    // Drift: someone deletes the nft table and one of the rules; the periodic check puts them back.
    const rules = async () => (await lab.exec('router', ['ip', 'rule'])).stdout.split('\n').sort();
    const rulesBefore = await rules();
    mark = d.logs.length;
    await lab.exec('router', ['nft', 'delete', 'table', 'inet', 'wanbraid']);
    await lab.exec('router', ['ip', 'rule', 'del', 'priority', '20102']);
    await d.waitForLog((l) => l.msg === 'kernel state had drifted from the plan: repaired', 10_000, mark);
    await d.waitForLog((l) => l.msg === 'plan applied' && l.why === 'verify', 10_000, mark);
    // A check may fall between the two deletions and repair only the first: the next one
    // (300 ms later) repairs the other, so wait for both rather than for one repair.
    await becomes(rules, rulesBefore, 'the rule is back');
    await becomes(async () => /table inet wanbraid/.test((await lab.exec('router', ['nft', 'list', 'tables'])).stdout), true, 'the nft table is back');
    assert.match((await lab.exec('router', ['nft', 'list', 'table', 'inet', 'wanbraid'])).stdout, /198\.19\.0\.99/, 'with the runtime set changes');
    // Drift inside the table: someone flushes the NAT chain (LAN traffic would leave un-NATed).
    const natChain = async () => (await lab.exec('router', ['nft', 'list', 'chain', 'inet', 'wanbraid', 'nat_postrouting'])).stdout;
    assert.match(await natChain(), /masquerade/);
    mark = d.logs.length;
    await lab.exec('router', ['nft', 'flush', 'chain', 'inet', 'wanbraid', 'nat_postrouting']);
    const seen = await d.waitForLog((l) => l.msg === 'nft table changed behind wanbraid: installing it again', 10_000, mark);
    assert.match(String(seen.drift), /expected rule in chain nat_postrouting/);
    await becomes(async () => /masquerade/.test(await natChain()), true, 'the NAT rules are back');
    assert.match((await lab.exec('router', ['nft', 'list', 'table', 'inet', 'wanbraid'])).stdout, /198\.19\.0\.99/, 'with the runtime set changes');
    await groupBecomes(lab, { wan1: 5, wan2: 3, wan3: 2 });

    // A reload with a new weight applies it without restarting anything.
    mark = d.logs.length;
    d.writeConfig(config.replace('weight: 5', 'weight: 1'));
    d.signal('SIGHUP');
    await d.waitForLog((l) => l.msg === 'reloaded', 10_000, mark);
    await groupBecomes(lab, { wan1: 1, wan2: 3, wan3: 2 });
    st = statusOf(await d.request({ cmd: 'status' }));
    assert.equal(linkOf(st.links, 'wan1').weight, 1);
    assert.equal(linkOf(st.links, 'wan1').state, 'online', 'a reload keeps link state');

    assert.equal(await d.stop(), 0);
    assert.deepEqual(await leftovers(lab), ['4242:\tfrom 198.18.100.77 lookup 4242', 'table inet foreign'], 'only the foreign rule and nft table are left');
    assert.match((await lab.exec('router', ['ip', 'rule', 'show', 'priority', '4242'])).stdout, /from 198\.18\.100\.77 lookup 4242/);
    assert.match((await lab.exec('router', ['ip', 'route', 'show', 'table', '4242'])).stdout, /198\.18\.250\.0\/24 via 198\.18\.1\.254/);
    assert.equal((await lab.exec('router', ['sysctl', '-n', 'net.ipv4.fib_multipath_hash_policy'])).stdout.trim(), sysBefore);
  } finally {
    await d?.stop();
    d?.cleanup();
    await lab.down();
  }
});

test('after kill -9 a new daemon adopts the leftovers, and its stop still leaves nothing', async () => {
  const lab = await Lab.up({ links: 2, services: false });
  const config = `status: { socket: "@SOCKET@" }
lan: { interfaces: [lan0] }
links:
  - { name: wan1, interface: wan1, gateway: 198.18.1.254, probe: { targets: [198.19.0.1] } }
  - { name: wan2, interface: wan2, gateway: 198.18.2.254, probe: { targets: [198.19.0.1] } }
policies:
  both: { links: [wan1, wan2] }
rules:
  - { name: default, policy: both }
`;
  let d: DaemonProcess | undefined;
  let d2: DaemonProcess | undefined;
  try {
    d = await DaemonProcess.start(lab.ns('router'), config);
    await d.kill();
    assert.ok((await leftovers(lab)).length > 0, 'a crash leaves kernel state behind');
    d2 = await DaemonProcess.start(lab.ns('router'), config);
    const st = statusOf(await d2.request({ cmd: 'status' }));
    assert.equal((st.balancer as { lastApply: { ok: boolean; failures: string[] } }).lastApply.ok, true, JSON.stringify(st.balancer));
    assert.equal(await d2.stop(), 0);
    assert.deepEqual(await leftovers(lab), []);
  } finally {
    await d?.stop();
    await d2?.stop();
    d?.cleanup();
    d2?.cleanup();
    await lab.down();
  }
});
