/**
 * systemd/wanbraid.service passes `systemd-analyze verify` without a single warning (an unknown
 * key is only a warning there, so stderr must be empty), carries the directives the daemon
 * relies on, and scores at most 2.5 in `systemd-analyze security --offline=yes` (the issue's
 * bound; lower is better). Deliberately weakened copies prove both checks can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemdAnalyze } from '../../helpers/prereq.js';

const UNIT = new URL('../../../../systemd/wanbraid.service', import.meta.url).pathname;
const BIN = new URL('../../../../bin/wanbraid', import.meta.url).pathname;

function verify(text: string): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-unit-'));
  try {
    // verify checks that ExecStart's program exists: point it at this checkout's launcher.
    const file = join(dir, 'wanbraid.service');
    writeFileSync(file, text.replaceAll('/usr/local/bin/wanbraid', BIN));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Skips without systemd-analyze, fails instead in CI (test/helpers/prereq.ts).
const needs = systemdAnalyze();


/** The overall exposure `systemd-analyze security --offline=yes` gives the unit text. */
function exposure(text: string): { score: number; report: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-unit-'));
  try {
    const file = join(dir, 'wanbraid.service');
    writeFileSync(file, text.replaceAll('/usr/local/bin/wanbraid', BIN));
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', file], { encoding: 'utf8' });
    if (r.error) throw r.error;
    const m = /Overall exposure level for wanbraid\.service: (\d+(?:\.\d+)?)/.exec(r.stdout);
    assert.ok(m, `no score in: ${r.stdout}${r.stderr}`);
    return { score: Number(m[1]), report: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

needs.test('the unit\'s exposure score is at most 2.5', () => {
  const { score, report } = exposure(readFileSync(UNIT, 'utf8'));
  assert.ok(score <= 2.5, `exposure ${score} > 2.5:\n${report.split('\n').filter((l) => l.includes('✗')).join('\n')}`);
});

needs.test('positive control: without its system call filter and device, proc and mount lines it scores worse than 2.5', () => {
  const weakened = readFileSync(UNIT, 'utf8')
    .split('\n')
    .filter((l) => !/^(SystemCallFilter|PrivateDevices|ProtectProc|PrivateMounts|UMask)=/.test(l))
    .join('\n');
  assert.ok(exposure(weakened).score > 2.5);
});

needs.test('the unit verifies cleanly', () => {
  const r = verify(readFileSync(UNIT, 'utf8'));
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
});

needs.test('positive control: a misspelt directive is caught', () => {
  const r = verify(readFileSync(UNIT, 'utf8').replace('NoNewPrivileges=', 'NoNewPrivilege='));
  assert.match(r.stderr, /Unknown key 'NoNewPrivilege'/);
});

test('the unit has the directives the daemon relies on', () => {
  const text = readFileSync(UNIT, 'utf8');
  const has = (line: string) => assert.ok(text.split('\n').includes(line), `missing: ${line}`);
  has('Type=notify');
  has('ExecStart=/usr/local/bin/wanbraid run -c /etc/wanbraid/wanbraid.yaml');
  has('ExecReload=/bin/kill -HUP $MAINPID');
  has('Restart=on-failure');
  has('CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE');
  has('AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE');
  has('ProtectSystem=strict');
  has('ProtectHome=yes');
  has('NoNewPrivileges=yes');
  has('RuntimeDirectory=wanbraid');
  has('SystemCallFilter=@system-service @network-io');
  has('PrivateDevices=yes');
  has('UMask=0077');
  has('ProtectProc=invisible');
  assert.ok(/^MemoryMax=\d+[KMG]$/m.test(text) && /^TasksMax=\d+$/m.test(text) && /^LimitNOFILE=\d+$/m.test(text), 'memory, task and file limits');
  // A crash loop must never end in "failed" with a crashed run's routing left in the kernel.
  has('StartLimitIntervalSec=0');
  assert.ok(!/^ProtectKernelTunables=yes/m.test(text), 'the daemon writes net sysctls (fib_multipath_hash_policy)');
  assert.ok(/^WatchdogSec=\d+/m.test(text));
});
