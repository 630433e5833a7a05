/**
 * scripts/run-tests.mjs cannot pass by accident: no files is a failure (a filter that matches
 * nothing included), both stages run and report when the first fails, a file without tests fails,
 * and in CI a skipped test fails the run. Each case runs the script on a scratch tree of tiny test
 * files (WANBRAID_TEST_DIST), never on the project's own tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePrereq } from '../../helpers/prereq.js';

const SCRIPT = fileURLToPath(new URL('../../../../scripts/run-tests.mjs', import.meta.url));
const isRoot = process.getuid?.() === 0;

const PASS = "require('node:test').test('passes', () => {});\n";
const FAIL = "require('node:test').test('fails', () => { throw new Error('boom'); });\n";
const SKIP = "require('node:test').test('skips on its own', { skip: 'no tool' }, () => {});\n";
const EMPTY = '// declares no test\n';

/** Runs the script on a tree { 'unit/a.test.js': PASS, ... }. */
function runOn(tree: Record<string, string>, args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-run-tests-'));
  try {
    for (const [p, text] of Object.entries(tree)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), text);
    }
    const childEnv: Record<string, string | undefined> = { ...process.env, WANBRAID_TEST_DIST: dir, ...env };
    delete childEnv.NODE_TEST_CONTEXT;
    if (!('CI' in env)) delete childEnv.CI;
    const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', env: childEnv });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a stage with no test files fails and says where it looked', () => {
  const r = runOn({ 'unit/README': 'not a test' }, ['unit']);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /unit: FAILED: no test files under .*unit \(did the build run\? npm run build\)/);
});

test('a filter that matches nothing fails; one that matches runs (positive control)', () => {
  const tree = { 'unit/a.test.js': PASS };
  const none = runOn(tree, ['unit', 'nosuchthing']);
  assert.equal(none.status, 1, none.out);
  assert.match(none.out, /unit: FAILED: no test file under .*unit matches "nosuchthing"/);
  const some = runOn(tree, ['unit', 'a.test']);
  assert.equal(some.status, 0, some.out);
  assert.match(some.out, /unit: ok: 1 file\(s\), 1 test\(s\), 0 skipped/);
});

test('with all and a filter, one stage may be empty but not both', () => {
  const tree = { 'unit/a.test.js': PASS, 'lab/b.test.js': PASS };
  const unitOnly = runOn(tree, ['all', 'a.test']);
  assert.equal(unitOnly.status, 0, unitOnly.out);
  assert.match(unitOnly.out, /lab: nothing to run: no test file under .*lab matches "a.test"/);
  const neither = runOn(tree, ['all', 'nosuchthing']);
  assert.equal(neither.status, 1, neither.out);
  assert.match(neither.out, /unit: FAILED: no test file/);
  assert.match(neither.out, /lab: FAILED: no test file/);
});

test('both stages run and report when the unit stage fails; the exit status is 1', () => {
  const r = runOn({ 'unit/a.test.js': FAIL, 'lab/b.test.js': PASS }, []);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /unit: FAILED \(node --test exited with 1\): 1 file\(s\), 1 test\(s\), 0 skipped/);
  // The lab stage still ran (as root) or said why it could not.
  assert.match(r.out, isRoot ? /lab: ok: 1 file\(s\), 1 test\(s\), 0 skipped/ : /lab: FAILED: not run, needs root/);
});

const asRoot = requirePrereq({ name: 'root', available: isRoot, install: 'the lab stage runs only as root (sudo)' });
asRoot.test('a failing lab stage fails the run after a passing unit stage', () => {
  const r = runOn({ 'unit/a.test.js': PASS, 'lab/b.test.js': FAIL }, []);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /unit: ok/);
  assert.match(r.out, /lab: FAILED/);
});

test('a file that declares no test fails the stage, even beside one that does', () => {
  const r = runOn({ 'unit/a.test.js': PASS, 'unit/empty.test.js': EMPTY }, ['unit']);
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /unit: FAILED \(1 file\(s\) declared no test: .*empty\.test\.js\): 2 file\(s\), 1 test\(s\), 0 skipped/);
});

test('skipped tests are listed; with CI=true a skip fails the run', () => {
  const tree = { 'unit/a.test.js': PASS + SKIP };
  const local = runOn(tree, ['unit']);
  assert.equal(local.status, 0, local.out);
  assert.match(local.out, /unit: 1 test\(s\) skipped:\n {2}- .*a\.test\.js: skips on its own: no tool/);
  assert.match(local.out, /unit: ok: 1 file\(s\), 2 test\(s\), 1 skipped/);
  const ci = runOn(tree, ['unit'], { CI: 'true' });
  assert.equal(ci.status, 1, ci.out);
  assert.match(ci.out, /unit: FAILED \(1 test\(s\) skipped with CI=true \(CI installs every prerequisite: nothing may skip\)\)/);
  // Positive control: in CI without the skip, the same tree passes.
  const clean = runOn({ 'unit/a.test.js': PASS }, ['unit'], { CI: 'true' });
  assert.equal(clean.status, 0, clean.out);
});

test('an unknown stage is a usage error', () => {
  const r = runOn({ 'unit/a.test.js': PASS }, ['units']);
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /unknown stage "units" \(all, unit or lab\)/);
});
