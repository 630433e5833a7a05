/**
 * The addon's loader and argument checks (no root: nothing here opens a raw socket or needs
 * conntrack; the lab tests cover those).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeAddon } from '../../../src/native/addon.js';
import { connectionFamily, getOriginalDst } from '../../../src/native/original-dst.js';
import { NativeCallError } from '../../../src/native/errors.js';
import { WanbraidError } from '../../../src/errors.js';
import { nativeAddonBuilt } from '../../helpers/prereq.js';

// Skips when the addon is not built, fails instead in CI (test/helpers/prereq.ts).
const needsAddon = nativeAddonBuilt();

test('a missing addon is WB_NATIVE with the way to build it', () => {
  assert.throws(
    () => nativeAddon('/nonexistent/wanbraid_native.node'),
    (e: unknown) => e instanceof WanbraidError && e.code === 'WB_NATIVE' && /not found at \/nonexistent\/wanbraid_native\.node: build it with `npm run build`/.test(e.message) && e.cause !== undefined,
  );
});

test('a file that is not an addon, or an addon without our exports, is WB_NATIVE too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-addon-'));
  try {
    const garbage = join(dir, 'garbage.node');
    writeFileSync(garbage, 'not an ELF file');
    assert.throws(() => nativeAddon(garbage), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_NATIVE' && /did not load: .*rebuild it/.test(e.message));
    const other = join(dir, 'other.js');
    writeFileSync(other, 'module.exports = { IcmpSocket: 1 };');
    assert.throws(() => nativeAddon(other), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_NATIVE' && /lacks IcmpSocket\/getOriginalDst/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the connection family comes from the peer, v4-mapped peers included', () => {
  assert.equal(connectionFamily('198.18.100.2'), 4);
  assert.equal(connectionFamily('::ffff:198.18.100.2'), 4);
  assert.equal(connectionFamily('2001:db8:100::2'), 6);
  assert.equal(connectionFamily('::ffff:1:2'), 6);
});

needsAddon.test('the addon checks its arguments before any system call', () => {
  const addon = nativeAddon();
  const bad = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof TypeError && (e as NodeJS.ErrnoException).code === 'ERR_INVALID_ARG_VALUE' && re.test(e.message));
  bad(() => new addon.IcmpSocket(5 as 4, '198.18.1.2', () => undefined), /family must be 4 or 6/);
  bad(() => new addon.IcmpSocket(4, '2001:db8::1', () => undefined), /not a numeric IPv4 address/);
  bad(() => new addon.IcmpSocket(6, 'x'.repeat(100), () => undefined), /not a numeric IPv6 address/);
  bad(() => new addon.IcmpSocket(4, '198.18.1.2', 'nope' as never), /onDatagram must be a function/);
  bad(() => addon.getOriginalDst(-1, 4), /fd must be an integer/);
  bad(() => addon.getOriginalDst(1.5, 4), /fd must be an integer/);
});

needsAddon.test('getOriginalDst on something that is not a socket reports the errno', () => {
  const fd = openSync('/dev/null', 'r');
  try {
    assert.throws(() => getOriginalDst(fd, 4), (e: unknown) => e instanceof NativeCallError && e.errno === 'ENOTSOCK' && e.code === 'WB_NATIVE');
  } finally {
    closeSync(fd);
  }
});
