/**
 * Quality limits on the real kernel, through the whole daemon: a lossy link (nft loss inside its
 * ISP) is `degraded`, not offline; while degraded it balances with its reduced weight (or not at
 * all, after a reload to `remove`); when the loss stops it recovers and gets its weight back.
 *
 *   client ── lan0 [router: wanbraid run] wan1 (weight 3), wan2 (weight 2) ── isp1, isp2 ── inet
 *
 * Loss of 15 % each way loses about 28 % of probes: far above `maxLossPct: 10` over an 8 s window
 * (32 probes; a window at or below the 5 % recovery mark, ≤ 1 lost, has a chance of about 4·10⁻⁴),
 * while a round fails only when all four attempts of it are lost (0.28⁴ ≈ 0.6 %), so three failed
 * rounds in a row (≈ 2·10⁻⁷ per round) do not happen: the link never goes offline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../../src/lab/lab.js';
import { DaemonProcess, statusOf } from '../harness/daemon.js';
import { becomes, defaultGroup, stateLine } from '../harness/router-view.js';

const groupBecomes = (lab: Lab, want: Record<string, number>): Promise<void> => becomes(() => defaultGroup(lab), want);

const config = (action: 'reduce' | 'remove') => `
status: { socket: "@SOCKET@" }
lan: { interfaces: [lan0] }
links:
  - name: wan1
    interface: wan1
    gateway: 198.18.1.254
    weight: 3
    degraded: { action: ${action}, weight: 1 }
    probe:
      targets: [198.19.0.1, 198.19.0.2]
      window: 8s
      quality: { maxLossPct: 10 }
  - name: wan2
    interface: wan2
    gateway: 198.18.2.254
    weight: 2
    probe: { targets: [198.19.0.1, 198.19.0.2] }
policies:
  balanced: { links: [wan1, wan2] }
rules:
  - { name: default, policy: balanced }
`;

test('a lossy link is degraded, not offline: reduced weight, removed after a reload, its weight back on recovery', async () => {
  const lab = await Lab.up({ links: 2 });
  let d: DaemonProcess | undefined;
  try {
    d = await DaemonProcess.start(lab.ns('router'), config('reduce'));
    for (const l of ['wan1', 'wan2']) await d.waitForLog(stateLine(l, 'online'), 15_000);
    await groupBecomes(lab, { wan1: 3, wan2: 2 });

    await lab.fault('wan1', { kind: 'loss', pct: 15 });
    const degraded = await d.waitForLog(stateLine('wan1', 'degraded'), 30_000);
    assert.equal(degraded.prev, 'online');
    await groupBecomes(lab, { wan1: 1, wan2: 2 });
    let st = statusOf(await d.request({ cmd: 'status' }));
    const wan1 = st.links.find((l) => l.name === 'wan1')!;
    assert.equal(wan1.state, 'degraded');
    assert.equal(wan1.weight, 1);
    // The loss that moved it, as the transition recorded it (the window's figure now is a later,
    // random sample of a 15 % loss and may be at or below the limit).
    assert.equal(wan1.reasonKind, 'quality');
    const over = /^loss ([\d.]+) ?% over 10(\.0)? ?%$/.exec(wan1.reason);
    assert.ok(over && Number(over[1]) > 10, `degraded for loss over 10 %: ${wan1.reason}`);
    assert.ok(typeof wan1.lossPct === 'number' && wan1.lossPct > 0, `loss seen: ${String(wan1.lossPct)}`);

    // The operator would rather not use it at all while it is lossy: reload with `remove`.
    let mark = d.logs.length;
    d.writeConfig(config('remove'));
    d.signal('SIGHUP');
    await d.waitForLog((l) => l.msg === 'reloaded', 10_000, mark);
    await groupBecomes(lab, { wan2: 1 }); // alone in the group (weights are divided by their gcd)
    st = statusOf(await d.request({ cmd: 'status' }));
    assert.equal(st.links.find((l) => l.name === 'wan1')!.state, 'degraded', 'a reload keeps the link state');

    // The loss stops: once the window is clean the link recovers with its full weight.
    mark = d.logs.length;
    await lab.fault('wan1', { kind: 'clear' });
    await d.waitForLog(stateLine('wan1', 'online'), 30_000, mark);
    await groupBecomes(lab, { wan1: 3, wan2: 2 });
    const flips = d.logs.filter((l) => l.link === 'wan1' && l.state === 'offline');
    assert.deepEqual(flips, [], 'never offline under loss');

    assert.equal(await d.stop(), 0);
    d = undefined;
  } finally {
    if (d) await d.stop().catch(() => undefined);
    await lab.down();
  }
});
