/**
 * Nothing half-started (issue 9 §3), in a router namespace:
 *
 *   [ wanbraid-<id>-router: lan0, wan1, wan2, wan3 (veth, peers in the same namespace) ]  ← bin/wanbraid run | check
 *
 * 1. PATH without nft: `run` refuses with one line naming nft and its Debian package, exit 1, and
 *    leaves nothing (no socket or runtime dir, no nft table, no rules, routes or nexthops);
 *    `check` says the same under "system" and exits 1. Positive controls: with the full PATH,
 *    `check` passes (the real probes, run in the namespace) and `run` starts and installs its table.
 * 2. A fake `nft` first in PATH that refuses every batch: no READY=1, `status` shows "plan failed",
 *    the metrics count the failures, retries back off (0.5 s, 1 s, 2 s …) and verify ticks wait; once
 *    the fake starts passing batches to the real nft, the daemon recovers by itself and sends READY=1.
 * 3. nft gone from PATH while running: a reload is refused with the same line and the running
 *    configuration stays; with nft back, the same reload goes through (positive control).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { NamespaceSet } from '../../../src/lab/netns.js';
import { findOnPath } from '../../../src/daemon/preflight-probe.js';
import type { PlanStatus } from '../../../src/daemon/plan-retry.js';
import { DaemonProcess, exampleRouterNamespace, statusOf, type LogLine } from '../harness/daemon.js';
import { NotifySink } from '../harness/notify-sink.js';

const EXAMPLE = readFileSync(new URL('../../../../examples/wanbraid.yaml', import.meta.url), 'utf8').replace('/run/wanbraid/wanbraid.sock', '@SOCKET@');
const BIN = new URL('../../../../bin/wanbraid', import.meta.url).pathname;
const FULL_PATH = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const REAL_NFT = findOnPath('nft', FULL_PATH);
/** PATH without any directory that holds nft (nothing else the daemon runs lives only there). */
const PATH_NO_NFT = FULL_PATH.split(delimiter)
  .filter((d) => d !== '' && !existsSync(join(d, 'nft')))
  .join(delimiter);

let set: NamespaceSet;
before(async () => {
  set = await exampleRouterNamespace();
});
after(async () => {
  await set?.destroy();
});

function inRouter(argv: string[], env: Record<string, string> = {}) {
  const pre = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return spawnSync('ip', ['netns', 'exec', set.ns('router'), 'env', ...pre, ...argv], { encoding: 'utf8', timeout: 30_000 });
}

/** What wanbraid could have left in the router namespace. */
function kernelLeftovers(): string[] {
  const out: string[] = [];
  const tables = inRouter(['nft', 'list', 'tables']).stdout;
  if (/wanbraid/.test(tables)) out.push(`nft: ${tables.trim()}`);
  for (const fam of ['-4', '-6']) {
    const rules = inRouter(['ip', fam, 'rule']).stdout;
    for (const l of rules.split('\n')) if (/^20\d{3}:/.test(l)) out.push(`rule ${fam}: ${l}`);
    const routes = inRouter(['ip', fam, 'route', 'show', 'table', 'all']).stdout;
    for (const l of routes.split('\n')) if (/table (20\d{3}|wanbraid)/.test(l)) out.push(`route ${fam}: ${l}`);
  }
  const nh = inRouter(['ip', 'nexthop']).stdout.trim();
  if (nh !== '') out.push(`nexthops: ${nh}`);
  return out;
}

test('PATH without nft: run refuses in one line naming nft and nftables, exit 1, nothing left behind; check says the same', async () => {
  assert.ok(REAL_NFT, 'nft is installed on the test host (scripts/install.sh)');
  assert.equal(findOnPath('nft', PATH_NO_NFT), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-preflight-'));
  try {
    const socket = join(dir, 'run', 'wanbraid.sock');
    const cfg = join(dir, 'wanbraid.yaml');
    writeFileSync(cfg, EXAMPLE.replaceAll('@SOCKET@', socket));

    const r = inRouter([process.execPath, BIN, 'run', '-c', cfg], { PATH: PATH_NO_NFT });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '', 'no log line: nothing started');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^wanbraid run: refusing to start: nft: not found in PATH \(.*\); needed by balancing \(links wan1, wan2, wan3\); install the Debian package nftables$/);
    assert.equal(existsSync(dirname(socket)), false, 'no runtime directory, no socket, no sysctl state file');
    assert.deepEqual(kernelLeftovers(), []);

    const c = inRouter([process.execPath, BIN, 'check', '-c', cfg], { PATH: PATH_NO_NFT });
    assert.equal(c.status, 1, c.stdout + c.stderr);
    assert.match(c.stdout, /^system: 1 missing \(wanbraid run refuses to start\)$/m);
    assert.match(c.stdout, /^ {2}MISSING\s+nft\s+not found in PATH .*; install the Debian package nftables$/m);
    const j = inRouter([process.execPath, BIN, 'check', '-c', cfg, '--json'], { PATH: PATH_NO_NFT });
    assert.equal(j.status, 1);
    const sys = (JSON.parse(j.stdout) as { system: { ok: boolean; checks: { id: string; status: string }[] } }).system;
    assert.equal(sys.ok, false);
    assert.deepEqual(sys.checks.find((x) => x.id === 'nft')?.status, 'missing');

    // Positive controls: with nft on PATH the real probes pass here, and run starts and installs its table.
    const ok = inRouter([process.execPath, BIN, 'check', '-c', cfg], { PATH: FULL_PATH });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^system: ok$/m);
    for (const what of ['nft', 'nftables table inet', 'nexthop objects', 'conntrack netlink', 'native addon']) assert.match(ok.stdout, new RegExp(`^  ok\\s+${what}\\s`, 'm'));
    assert.deepEqual(kernelLeftovers(), [], 'check changed nothing (nft --check only)');
    const d = await DaemonProcess.start(set.ns('router'), EXAMPLE);
    try {
      assert.match(inRouter(['nft', 'list', 'tables']).stdout, /table inet wanbraid/);
    } finally {
      assert.equal(await d.stop(), 0);
      d.cleanup();
    }
    assert.deepEqual(kernelLeftovers(), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fake nft that refuses batches: no READY=1, status and metrics show the failure, backoff, then recovery and READY=1 by itself', async () => {
  assert.ok(REAL_NFT);
  const fake = mkdtempSync(join(tmpdir(), 'wanbraid-fake-nft-'));
  const flag = join(fake, 'pass');
  // Refuses every batch that would change something (`-f` without `--check`) until the flag file
  // exists; listings and check-only batches go to the real nft, so preflight passes.
  writeFileSync(
    join(fake, 'nft'),
    `#!/bin/sh
check=0; batch=0
for a in "$@"; do
  case "$a" in --check|-c) check=1 ;; -f) batch=1 ;; esac
done
if [ "$batch" = 1 ] && [ "$check" = 0 ] && [ ! -e '${flag}' ]; then
  echo 'Error: fake nft refuses this batch' >&2
  exit 1
fi
exec '${REAL_NFT}' "$@"
`,
  );
  chmodSync(join(fake, 'nft'), 0o755);
  const sink = await NotifySink.start();
  const config = `${EXAMPLE}\nmetrics:\n  listen: 127.0.0.1:9781\nrouting:\n  verifyInterval: 200ms\n`;
  const d = await DaemonProcess.start(set.ns('router'), config, { waitReady: false, env: { NOTIFY_SOCKET: sink.path, PATH: `${fake}${delimiter}${FULL_PATH}` } });
  const failed = (l: LogLine) => l.msg === 'plan applied with failures';
  try {
    // Three failed applies in a row, each with its backoff.
    const third = () => d.logs.filter(failed).length >= 3;
    await d.waitForLog(() => third(), 30_000);
    const failures = d.logs.filter(failed);
    assert.deepEqual(
      failures.slice(0, 3).map((l) => l.retryInMs),
      [500, 1000, 2000],
      JSON.stringify(failures.map((l) => [l.why, l.retryInMs])),
    );
    assert.match(JSON.stringify(failures[0]!.failures), /fake nft refuses this batch/);
    assert.equal(
      d.logs.some((l) => l.op === 'apply' && l.why === 'verify'),
      false,
      'no verify tick applies while the plan is failing (every 200 ms otherwise)',
    );
    assert.equal(sink.messages.some((m) => m.split('\n').includes('READY=1')), false, 'no READY=1 while the plan fails');
    assert.equal(d.logs.some((l) => l.msg === 'ready'), false);

    const st = statusOf(await d.request({ cmd: 'status' }));
    const plan = st.plan as PlanStatus;
    assert.equal(plan.state, 'failed');
    assert.ok(plan.failuresTotal >= 3, JSON.stringify(plan));
    assert.match(plan.failures.join('\n'), /fake nft refuses this batch/);
    assert.ok(plan.nextRetryAt !== undefined);
    const cli = spawnSync(process.execPath, [BIN, 'status', '-s', d.socketPath], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /^plan failed: .*fake nft refuses this batch.* failed appl(y|ies) in a row since/m);
    const metrics = () => {
      const m = inRouter([process.execPath, '-e', "fetch('http://127.0.0.1:9781/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"]);
      assert.equal(m.status, 0, m.stderr);
      return m.stdout;
    };
    const before = metrics();
    const total = Number(/^wanbraid_plan_failures_total (\d+)$/m.exec(before)?.[1]);
    assert.ok(total >= 3, before);
    assert.match(before, /^wanbraid_plan_failing 1$/m);

    // The fake now passes batches on: the next retry succeeds without anyone's help.
    writeFileSync(flag, '');
    await sink.waitFor((m) => m.split('\n').includes('READY=1'), 45_000);
    const ready = sink.messages.find((m) => m.split('\n').includes('READY=1'))!;
    assert.match(ready, /STATUS=3 links, plan applied/);
    assert.match(inRouter(['nft', 'list', 'tables']).stdout, /table inet wanbraid/);
    await d.waitForLog((l) => l.msg === 'plan applied again after failures', 5_000);
    const after = statusOf(await d.request({ cmd: 'status' })).plan as PlanStatus;
    assert.equal(after.state, 'ok');
    assert.equal(after.consecutiveFailures, 0);
    assert.ok(after.failuresTotal >= total);
    const m2 = metrics();
    assert.match(m2, /^wanbraid_plan_failing 0$/m);
    assert.ok(Number(/^wanbraid_plan_failures_total (\d+)$/m.exec(m2)?.[1]) >= total);
    // Positive control for the paused verify ticks: with the plan in, they run again.
    const mark = d.logs.length;
    await d.waitForLog((l) => l.op === 'apply' && l.why === 'verify', 10_000, mark);

    assert.equal(await d.stop(), 0);
    assert.deepEqual(kernelLeftovers(), []);
  } finally {
    await d.stop();
    d.cleanup();
    sink.stop();
    rmSync(fake, { recursive: true, force: true });
  }
});

test('nft gone while running: a reload is refused naming it, the running config stays; with nft back the reload applies', async () => {
  assert.ok(REAL_NFT);
  const ip = findOnPath('ip', FULL_PATH);
  assert.ok(ip);
  // PATH: this directory (nft, a wrapper of the real one, and ip for \`ip netns exec\`), then PATH without nft.
  const bin = mkdtempSync(join(tmpdir(), 'wanbraid-path-'));
  const nft = join(bin, 'nft');
  const putNft = () => {
    writeFileSync(nft, `#!/bin/sh\nexec '${REAL_NFT}' "$@"\n`);
    chmodSync(nft, 0o755);
  };
  putNft();
  symlinkSync(ip, join(bin, 'ip'));
  const d = await DaemonProcess.start(set.ns('router'), EXAMPLE, { env: { PATH: `${bin}${delimiter}${PATH_NO_NFT}` } });
  try {
    rmSync(nft);
    const mark = d.logs.length;
    d.writeConfig(EXAMPLE.replace('weight: 2', 'weight: 7'));
    d.signal('SIGHUP');
    const refused = await d.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('reload refused'), 15_000, mark);
    assert.deepEqual(refused.issues, [`nft: not found in PATH (${bin}${delimiter}${PATH_NO_NFT}); needed by balancing (links wan1, wan2, wan3); install the Debian package nftables`]);
    assert.equal(statusOf(await d.request({ cmd: 'status' })).links[2]!.configuredWeight, 2, 'the running configuration stays');

    putNft();
    const mark2 = d.logs.length;
    d.signal('SIGHUP');
    await d.waitForLog((l) => l.msg === 'reloaded', 15_000, mark2);
    assert.equal(statusOf(await d.request({ cmd: 'status' })).links[2]!.configuredWeight, 7);
    assert.equal(await d.stop(), 0);
    assert.deepEqual(kernelLeftovers(), []);
  } finally {
    await d.stop();
    d.cleanup();
    rmSync(bin, { recursive: true, force: true });
  }
});
