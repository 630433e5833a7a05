/**
 * `wanbraid check` on a host (a bare namespace): a dial's missing parent and a password file that
 * others can read are errors naming their path; with the parent present and the file private,
 * the same lines are ok (control).
 *
 *   [router: eth1 (a veth end)]
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NamespaceSet } from '../../../src/lab/netns.js';

const BIN = fileURLToPath(new URL('../../../../bin/wanbraid', import.meta.url));

test('check: a missing parent and a group-readable password file are errors naming dials[i]; present and private they are ok', async () => {
  const ns = await NamespaceSet.create(['router']);
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-dial-check-'));
  try {
    await ns.ip('router', ['link add eth1 type veth peer name eth1p']);
    const secret = join(dir, 'isp.secret');
    writeFileSync(secret, 'pw\n', { mode: 0o644 });
    chmodSync(secret, 0o644);
    const file = join(dir, 'wanbraid.yaml');
    const yaml = (parent: string) => `status: { socket: ${join(dir, 'sock')} }
dials:
  - { name: isp, parent: ${parent}, sessions: 2, method: pppoe, pppoe: { username: u, passwordFile: ${secret} } }
`;
    writeFileSync(file, yaml('eth9'));
    const bad = await ns.exec('router', [process.execPath, BIN, 'check', '-c', file], { allowFail: true });
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /MISSING\s+interface eth9\s+does not exist in this network namespace .*; needed by dials\[0\]\.parent;/);
    assert.match(bad.stdout, /MISSING\s+password file \S*isp\.secret\s+is readable or writable by group or others \(mode 0644\); needed by dials\[0\]\.pppoe\.passwordFile; a regular file readable by root only: chmod 600/);

    chmodSync(secret, 0o600);
    writeFileSync(file, yaml('eth1'));
    const good = await ns.exec('router', [process.execPath, BIN, 'check', '-c', file], { allowFail: true });
    assert.doesNotMatch(good.stdout, /dials\[0\]\.parent|dials\[0\]\.pppoe\.passwordFile/, good.stdout);
    assert.match(good.stdout, /ok\s+interface eth1\s+exists/);
    assert.match(good.stdout, /ok\s+password file \S+\s+readable by its owner only/);
  } finally {
    await ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
