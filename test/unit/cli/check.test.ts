/** `wanbraid check`'s system section, human and --json, with a fake probe (the real one is proven in test/lab/daemon/preflight.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CliIO } from '../../../src/cli/args.js';
import { formatSystem, makeCheck } from '../../../src/cli/commands/check.js';
import type { Config } from '../../../src/config/schema.js';
import { requirements, systemCheck, systemReport, type ProbeOutcome, type RequirementId, type SystemReport } from '../../../src/daemon/preflight.js';

const EXAMPLE = new URL('../../../../examples/wanbraid.yaml', import.meta.url).pathname;
const ENV = { kernelRelease: '6.1.0-13-amd64', notify: false, arch: 'x64' };

/** A probe that answers every requirement of the config from `outcomes` (ok by default) and records the calls. */
function fakeProbe(outcomes: Partial<Record<RequirementId, ProbeOutcome>> = {}) {
  const calls: Config[] = [];
  const probe = async (cfg: Config): Promise<SystemReport> => {
    calls.push(cfg);
    return systemReport(requirements(cfg, ENV).map((r) => systemCheck(r, outcomes[r.id] ?? { status: 'ok', detail: `${r.id} here` })));
  };
  return { probe, calls };
}

async function run(probe: ReturnType<typeof fakeProbe>['probe'], ...argv: string[]) {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n') };
  const code = await makeCheck(probe).run(argv, io);
  return { code, out, err };
}

test('check: a "system" section after the file line; all present is exit 0', async () => {
  const f = fakeProbe();
  const r = await run(f.probe, '-c', EXAMPLE);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^.*wanbraid\.yaml: ok \(3 links, 3 policies, 2 rules\)\nsystem: ok\n/);
  assert.match(r.out, /^ {2}STATUS\s+WHAT\s+DETAIL$/m);
  for (const what of ['nft', 'nftables table inet', 'libnftables', 'nexthop objects', 'conntrack netlink', 'native addon']) assert.match(r.out, new RegExp(`^  ok\\s+${what}\\s+\\S`, 'm'));
  assert.equal(f.calls.length, 1);
});

test('check: a missing tool is exit 1 with what, what needs it and the Debian package; skipped ones are not failures', async () => {
  const f = fakeProbe({
    nft: { status: 'missing', detail: 'not found in PATH (/usr/bin:/bin)' },
    'nft-table': { status: 'skipped', detail: 'not checked: nft is missing' },
    ctnetlink: { status: 'skipped', detail: 'not checked: needs root (CAP_NET_ADMIN)' },
  });
  const r = await run(f.probe, '-c', EXAMPLE);
  assert.equal(r.code, 1);
  assert.match(r.out, /^system: 1 missing \(wanbraid run refuses to start\)$/m);
  assert.match(r.out, /^ {2}MISSING\s+nft\s+not found in PATH \(\/usr\/bin:\/bin\); needed by balancing \(links wan1, wan2, wan3\); install the Debian package nftables$/m);
  assert.match(r.out, /^ {2}skipped\s+nftables table inet\s+not checked: nft is missing$/m);

  const onlySkipped = await run(fakeProbe({ ctnetlink: { status: 'skipped', detail: 'not checked: needs root (CAP_NET_ADMIN)' } }).probe, '-c', EXAMPLE);
  assert.equal(onlySkipped.code, 0, 'a probe that could not run here does not fail the check');
});

test('check --json: {file, config, system} with stable ids; exit 1 when something is missing', async () => {
  const r = await run(fakeProbe({ native: { status: 'missing', detail: 'not found at /x/wanbraid_native.node' } }).probe, '-c', EXAMPLE, '--json');
  assert.equal(r.code, 1);
  const o = JSON.parse(r.out) as { file: string; config: Config; system: SystemReport };
  assert.equal(o.file, EXAMPLE);
  assert.equal(o.config.links.length, 3);
  assert.equal(o.config.routing.groupType, 'auto', 'defaults filled in');
  assert.equal(o.system.ok, false);
  assert.deepEqual(
    o.system.checks.map((c) => [c.id, c.status]),
    [
      ['nft', 'ok'],
      ['nft-table', 'ok'],
      ['libnftables', 'ok'],
      ['nexthop', 'ok'],
      ['ctnetlink', 'ok'],
      ['native', 'missing'],
    ],
  );
  const native = o.system.checks.find((c) => c.id === 'native')!;
  assert.deepEqual(native.neededBy, ['icmp probes (links wan1, wan2, wan3)', 'the libnftables context (balancing)', 'routing.resetDeadFlows']);
  assert.match(native.remedy, /npm run build/);
  const good = await run(fakeProbe().probe, '-c', EXAMPLE, '--json');
  assert.equal(good.code, 0);
  assert.equal((JSON.parse(good.out) as { system: SystemReport }).system.ok, true);
});

test('check --no-system validates the file only: no probe, exit 0, no system key in --json', async () => {
  const f = fakeProbe({ nft: { status: 'missing', detail: 'not found in PATH ()' } });
  const r = await run(f.probe, '-c', EXAMPLE, '--no-system');
  assert.equal(r.code, 0);
  assert.doesNotMatch(r.out, /system/);
  const j = await run(f.probe, '-c', EXAMPLE, '--no-system', '--json');
  assert.equal(j.code, 0);
  assert.equal('system' in (JSON.parse(j.out) as object), false);
  assert.equal(f.calls.length, 0, 'the probe never ran');
});

test('check of an invalid file: exit 1 before any probe', async () => {
  const f = fakeProbe();
  const r = await run(f.probe, '-c', '/nonexistent/wanbraid.yaml');
  assert.equal(r.code, 1);
  assert.equal(f.calls.length, 0);
});

test('formatSystem: nothing needed is said plainly', () => {
  assert.equal(formatSystem({ ok: true, checks: [] }), 'system: nothing to check (no links, no icmp probes, no transparent relay entry)');
});
