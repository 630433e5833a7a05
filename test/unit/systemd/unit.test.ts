/**
 * systemd/wanbraid.service passes `systemd-analyze verify` without a single warning (an unknown
 * key is only a warning there, so stderr must be empty), and carries the directives the daemon
 * relies on. A deliberately misspelt copy proves the check can fail.
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
  assert.ok(!/^ProtectKernelTunables=yes/m.test(text), 'the daemon writes net sysctls (fib_multipath_hash_policy)');
  assert.ok(/^WatchdogSec=\d+/m.test(text));
});
