#!/usr/bin/env node
// Test entry point behind `npm test`: runs the compiled unit tests, then the lab tests.
// Unit tests need nothing; lab tests need root (they build network namespaces) and run one
// file at a time so that their figures are not distorted by each other on a 2-core machine.
//
// Usage: node scripts/run-tests.mjs [all|unit|lab] [filter-substring]
//
// A run cannot pass by accident:
// - a stage that collects no test file (nothing built, or a filter that matches nothing) fails, and
//   so does a test file that declares no test; with `all` and a filter, the filter must match a
//   file in one of the two stages (the other stage then reports that it had nothing to run);
// - both stages always run and report, even when the first fails; the exit status is 1 when
//   either failed, and a last summary line gives each stage's outcome;
// - every skipped test is listed with its reason after the stage; with CI=true (or CI=1) a
//   skipped test fails the run (CI installs every prerequisite with scripts/install.sh, so a skip
//   there means something is missing; test/helpers/prereq.ts turns such a skip into a failure at
//   the test itself, and this check catches any skip that does not go through it).
//
// WANBRAID_TEST_DIST (default dist/test) is where the compiled tests are looked for; the unit
// test of this script points it at a scratch tree.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const which = process.argv[2] ?? 'all';
const filter = process.argv[3] ?? '';
const root = process.env.WANBRAID_TEST_DIST ?? 'dist/test';
const ci = process.env.CI === 'true' || process.env.CI === '1';
const reporter = join(dirname(fileURLToPath(import.meta.url)), 'test-events-reporter.mjs');

if (!['all', 'unit', 'lab'].includes(which)) {
  console.error(`run-tests: unknown stage "${which}" (all, unit or lab)\nusage: node scripts/run-tests.mjs [all|unit|lab] [filter-substring]`);
  process.exit(2);
}

function collect(dir) {
  let out = [];
  let names;
  try { names = readdirSync(dir); } catch { return out; }
  for (const name of names.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(collect(p));
    else if (name.endsWith('.test.js') && p.includes(filter)) out.push(p);
  }
  return out;
}

/** Runs the files; returns { status, tests, skipped: [{ file, name, reason }] }. */
function run(files, concurrency) {
  const scratch = mkdtempSync(join(tmpdir(), 'wanbraid-run-tests-'));
  const events = join(scratch, 'events.jsonl');
  try {
    const args = ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${reporter}`, `--test-reporter-destination=${events}`, ...files];
    const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
    let lines = [];
    try { lines = readFileSync(events, 'utf8').split('\n').filter((l) => l !== ''); } catch { /* the runner died before writing: status says so */ }
    const recs = lines.map((l) => JSON.parse(l));
    return {
      status: r.status ?? 1,
      tests: recs.filter((e) => e.kind === 'test').length,
      skipped: recs.filter((e) => e.kind === 'test' && e.skip !== undefined),
      // A file that loaded and ran without declaring a test (one that failed to load is a failure anyway).
      empty: recs.filter((e) => e.kind === 'file' && e.ok).map((e) => e.file),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Runs one stage and returns its outcome line; `failed` is set when it failed. */
function stage(name, files, concurrency, emptyIsFailure) {
  const dir = join(root, name);
  if (files.length === 0) {
    const what = filter === '' ? `no test files under ${dir} (did the build run? npm run build)` : `no test file under ${dir} matches "${filter}"`;
    return { name, failed: emptyIsFailure, line: `${name}: ${emptyIsFailure ? 'FAILED' : 'nothing to run'}: ${what}` };
  }
  const r = run(files, concurrency);
  const problems = [];
  if (r.status !== 0) problems.push(`node --test exited with ${r.status}`);
  if (r.empty.length > 0) problems.push(`${r.empty.length} file(s) declared no test: ${r.empty.join(', ')}`);
  else if (r.tests === 0 && r.status === 0) problems.push('no test ran');
  if (r.skipped.length > 0) {
    console.error(`run-tests: ${name}: ${r.skipped.length} test(s) skipped:`);
    for (const s of r.skipped) console.error(`  - ${s.file ?? '?'}: ${s.name}: ${s.skip === true ? '(no reason given)' : s.skip}`);
    if (ci) problems.push(`${r.skipped.length} test(s) skipped with CI=${process.env.CI} (CI installs every prerequisite: nothing may skip)`);
  }
  const counts = `${files.length} file(s), ${r.tests} test(s), ${r.skipped.length} skipped`;
  return { name, failed: problems.length > 0, line: `${name}: ${problems.length > 0 ? `FAILED (${problems.join('; ')})` : 'ok'}: ${counts}` };
}

const wanted = which === 'all' ? ['unit', 'lab'] : [which];
const found = Object.fromEntries(wanted.map((s) => [s, collect(join(root, s))]));
// With `all` and a filter, one stage may rightly have nothing; the filter must still match somewhere.
const total = wanted.reduce((n, s) => n + found[s].length, 0);
const emptyIsFailure = (s) => which !== 'all' || filter === '' || total === 0 || found[s].length > 0;

const results = [];
if (wanted.includes('unit')) results.push(stage('unit', found.unit, 2, emptyIsFailure('unit')));
if (wanted.includes('lab')) {
  if (found.lab.length > 0 && process.getuid && process.getuid() !== 0) {
    console.error('run-tests: lab tests need root (they create network namespaces); run as root, e.g. sudo npm test');
    results.push({ name: 'lab', failed: true, line: 'lab: FAILED: not run, needs root' });
  } else {
    results.push(stage('lab', found.lab, 1, emptyIsFailure('lab')));
  }
}
for (const r of results) console.error(`run-tests: ${r.line}`);
process.exit(results.some((r) => r.failed) ? 1 : 0);
