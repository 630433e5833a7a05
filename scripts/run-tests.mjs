#!/usr/bin/env node
// Test entry point behind `npm test`: runs the compiled unit tests, then the lab tests.
// Unit tests need nothing; lab tests need root (they build network namespaces) and run one
// file at a time so that their figures are not distorted by each other on a 2-core machine.
// Usage: node scripts/run-tests.mjs [unit|lab] [filter-substring]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const which = process.argv[2] ?? 'all';
const filter = process.argv[3] ?? '';

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

function run(files, concurrency) {
  if (files.length === 0) return 0;
  const args = ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files];
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  return r.status ?? 1;
}

let status = 0;
if (which === 'all' || which === 'unit') {
  status ||= run(collect('dist/test/unit'), 2);
}
if (which === 'all' || which === 'lab') {
  if (process.getuid && process.getuid() !== 0) {
    console.error('lab tests need root (they create network namespaces); run as root, e.g. sudo npm test');
    status ||= 1;
  } else {
    status ||= run(collect('dist/test/lab'), 1);
  }
}
process.exit(status);
