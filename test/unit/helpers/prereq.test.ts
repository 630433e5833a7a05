/**
 * test/helpers/prereq.ts: a missing prerequisite skips outside CI and fails in CI; a present one
 * runs. The gate is also run through `node --test` in a child, to see what the runner reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decidePrereq, isCi, type Prereq } from '../../helpers/prereq.js';

const missing: Prereq = { name: 'frobnicate', available: false, install: 'apt-get install frobnicate' };
const present: Prereq = { ...missing, available: true };

test('CI is CI=true or CI=1, nothing else', () => {
  assert.equal(isCi({ CI: 'true' }), true);
  assert.equal(isCi({ CI: '1' }), true);
  for (const v of [undefined, '', 'false', '0', 'yes']) assert.equal(isCi({ CI: v }), false, `CI=${String(v)}`);
});

test('a present prerequisite runs, in CI or not', () => {
  assert.deepEqual(decidePrereq(present, {}), { action: 'run' });
  assert.deepEqual(decidePrereq(present, { CI: 'true' }), { action: 'run' });
});

test('a missing prerequisite skips outside CI, naming what and how to get it', () => {
  assert.deepEqual(decidePrereq(missing, {}), { action: 'skip', reason: 'frobnicate is not available: apt-get install frobnicate' });
  assert.equal(decidePrereq(missing, { CI: 'false' }).action, 'skip');
});

test('a missing prerequisite fails in CI, saying why it did not skip', () => {
  const d = decidePrereq(missing, { CI: 'true' });
  assert.equal(d.action, 'fail');
  assert.ok(d.action === 'fail' && d.reason === 'frobnicate is not available: apt-get install frobnicate (CI=true: a missing prerequisite fails instead of skipping)', JSON.stringify(d));
});

// The gate under the real runner: a child `node --test` of a file with one gated test.
function runGated(available: boolean, env: Record<string, string>): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-prereq-'));
  try {
    const helper = new URL('../../helpers/prereq.js', import.meta.url).href;
    const file = join(dir, 'gated.test.mjs');
    writeFileSync(
      file,
      `import { requirePrereq } from ${JSON.stringify(helper)};\n` +
        `requirePrereq({ name: 'frobnicate', available: ${available}, install: 'apt-get install frobnicate' }).test('needs frobnicate', () => { console.log('BODY RAN'); });\n`,
    );
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
    delete childEnv.NODE_TEST_CONTEXT; // else the child acts as a file of this run instead of a runner
    if (!('CI' in env)) delete childEnv.CI;
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', file], { encoding: 'utf8', env: childEnv });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('under node --test: skipped outside CI, failed in CI, run when present', () => {
  const skipped = runGated(false, {});
  assert.equal(skipped.status, 0, skipped.out);
  assert.match(skipped.out, /skipped 1/);
  assert.match(skipped.out, /frobnicate is not available: apt-get install frobnicate/);
  assert.doesNotMatch(skipped.out, /BODY RAN/);

  const failed = runGated(false, { CI: 'true' });
  assert.equal(failed.status, 1, failed.out);
  assert.match(failed.out, /fail 1/);
  assert.match(failed.out, /a missing prerequisite fails instead of skipping/);
  assert.doesNotMatch(failed.out, /BODY RAN/);

  // Positive control: the same gate with the prerequisite present runs the body and passes.
  const ran = runGated(true, { CI: 'true' });
  assert.equal(ran.status, 0, ran.out);
  assert.match(ran.out, /BODY RAN/);
  assert.match(ran.out, /pass 1/);
});
