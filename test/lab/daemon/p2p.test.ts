/**
 * A point-to-point uplink with no gateway in the config, as PPP(oE) gives one: the whole daemon
 * routes it by device, probes through it, balances and NATs LAN traffic over it, and takes it out
 * at once when the device loses carrier (the PPP daemon died).
 *
 *   client ── lan0 [router: wanbraid run] wan1 ── isp1 ── inet
 *                                         ppp0 ══ tun0 (in isp1)      198.18.1.50 peer 198.18.1.51
 *
 * ppp0 and tun0 are tun devices joined into one wire by tun-pair.py (this kernel has no ipip,
 * GRE or WireGuard; tun is built in, and a tun device has carrier only while a process holds it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Lab } from '../../../src/lab/lab.js';
import { DaemonProcess, statusOf } from '../harness/daemon.js';
import { becomes, defaultGroupMembers as defaultGroup, stateLine } from '../harness/router-view.js';

const TUN_PAIR = new URL('../../../../test/lab/daemon/tun-pair.py', import.meta.url).pathname;
const PPP4 = '198.18.1.50';
const PEER4 = '198.18.1.51';

/** Start the wire between ppp0 (router) and tun0 (isp1); resolves once both ends are held. */
async function wire(lab: Lab): Promise<ChildProcess> {
  const child = lab.spawn('router', ['python3', TUN_PAIR, 'ppp0', lab.ns('isp1'), 'tun0']);
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l === 'ready' && resolve());
    child.once('exit', (code) => reject(new Error(`tun-pair exited ${code}: ${stderr}`)));
  });
  return child;
}

test('a point-to-point link without a gateway: routed by device, probed, balanced and NATed; carrier loss takes it out at once', async () => {
  const lab = await Lab.up({ links: 1 });
  let d: DaemonProcess | undefined;
  let pair: ChildProcess | undefined;
  try {
    await lab.ip('router', ['tuntap add dev ppp0 mode tun', `addr add ${PPP4} peer ${PEER4} dev ppp0`, 'link set ppp0 up']);
    await lab.ip('isp1', ['tuntap add dev tun0 mode tun', `addr add ${PEER4} peer ${PPP4} dev tun0`, 'link set tun0 up']);
    pair = await wire(lab);
    const server = lab.addr.inet.server4;
    const config = `
status: { socket: "@SOCKET@" }
lan: { interfaces: [lan0] }
links:
  - name: wan1
    interface: wan1
    gateway: ${lab.addr.links[0]!.gateway4}
    probe: { targets: [198.19.0.1, 198.19.0.2] }
  - name: ppp
    interface: ppp0
    probe: { targets: [198.19.0.1, 198.19.0.2] }
policies:
  balanced: { links: [wan1, ppp] }
  ppp-only: { links: [ppp] }
rules:
  - { name: server-via-ppp, match: { dst: "${server}/32" }, policy: ppp-only }
  - { name: default, policy: balanced }
`;
    d = await DaemonProcess.start(lab.ns('router'), config);
    for (const l of ['wan1', 'ppp']) await d.waitForLog(stateLine(l, 'online'), 15_000);

    // Routed by device: the link's table and the default group name ppp0 with no gateway.
    await becomes(() => defaultGroup(lab), { wan1: { weight: 1, gateway: lab.addr.links[0]!.gateway4 }, ppp0: { weight: 1, gateway: null } });
    const routes = (await lab.exec('router', ['ip', 'route', 'show', 'table', 'all', 'dev', 'ppp0'])).stdout;
    assert.match(routes, /^default table \d+ proto (87|wanbraid) scope link/m, routes);
    assert.match((await lab.exec('router', ['ip', 'rule'])).stdout, new RegExp(`from ${PPP4.replaceAll('.', '\\.')} lookup \\d+`));
    const st = statusOf(await d.request({ cmd: 'status' }));
    const ppp = st.links.find((l) => l.name === 'ppp')!;
    assert.equal(ppp.state, 'online');
    assert.ok((ppp.targets as { last?: { ok: boolean } }[]).every((t) => t.last?.ok), 'both targets answered through ppp0');

    // LAN traffic the rule sends to ppp leaves NATed to the ppp address.
    const seenAs = async () =>
      (await lab.exec('client', [process.execPath, '-e', `fetch('http://${server}/ip').then((r) => r.text()).then((t) => process.stdout.write(t))`])).stdout.trim();
    assert.equal(await seenAs(), PPP4);

    // The PPP daemon dies: no carrier, the link is out at once, the group keeps wan1 alone.
    let mark = d.logs.length;
    pair.kill('SIGTERM');
    await new Promise((r) => pair!.once('exit', r));
    const off = await d.waitForLog(stateLine('ppp', 'offline'), 10_000, mark);
    assert.deepEqual(off.reason, { kind: 'carrier-lost' });
    await becomes(() => defaultGroup(lab), { wan1: { weight: 1, gateway: lab.addr.links[0]!.gateway4 } });

    // It dials again: carrier, probes, online, back in the group, traffic flows over it again.
    mark = d.logs.length;
    pair = await wire(lab);
    await d.waitForLog(stateLine('ppp', 'online'), 15_000, mark);
    await becomes(() => defaultGroup(lab), { wan1: { weight: 1, gateway: lab.addr.links[0]!.gateway4 }, ppp0: { weight: 1, gateway: null } });
    assert.equal(await seenAs(), PPP4);

    assert.equal(await d.stop(), 0);
    d = undefined;
    assert.equal((await lab.exec('router', ['ip', 'route', 'show', 'table', 'all', 'dev', 'ppp0', 'proto', '87'])).stdout.trim(), '', 'stop removes its routes');
  } finally {
    if (d) await d.stop().catch(() => undefined);
    pair?.kill('SIGTERM');
    await lab.down();
  }
});
