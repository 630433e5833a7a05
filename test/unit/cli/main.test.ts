/** CLI exit codes and messages: 0 ok, 1 failure, 2 usage; through main() and through the real launcher. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';

const BIN = new URL('../../../../bin/wanbraid', import.meta.url).pathname;
const EXAMPLE = new URL('../../../../examples/wanbraid.yaml', import.meta.url).pathname;

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n') });
  return { code, out, err };
}

test('--help and --version exit 0; no command is a usage error', async () => {
  const h = await cli('--help');
  assert.equal(h.code, 0);
  assert.match(h.out, /usage: wanbraid COMMAND/);
  assert.match(h.out, /\n {2}check /);
  const v = await cli('--version');
  assert.equal(v.code, 0);
  assert.match(v.out, /^wanbraid \d+\.\d+\.\d+/);
  assert.equal((await cli()).code, 2);
  const sub = await cli('check', '--help');
  assert.equal(sub.code, 0);
  assert.match(sub.out, /usage: wanbraid check/);
});

test('unknown commands and flags: a clear message and exit 2', async () => {
  const a = await cli('frobnicate');
  assert.equal(a.code, 2);
  assert.match(a.err, /unknown command "frobnicate"/);
  const b = await cli('check', '--frob');
  assert.equal(b.code, 2);
  assert.match(b.err, /check: Unknown option '--frob'/);
  const c = await cli('status', 'extra');
  assert.equal(c.code, 2);
  assert.match(c.err, /unexpected argument "extra"/);
  const d = await cli('toString');
  assert.equal(d.code, 2, 'names inherited from Object are not commands');
});

test('check: 0 for a valid file, 1 with every problem for an invalid one, 1 for a missing one', async () => {
  // --no-system: the file only; the host probes are tested in check.test.ts and the lab.
  const ok = await cli('check', '-c', EXAMPLE, '--no-system');
  assert.equal(ok.code, 0);
  assert.match(ok.out, /ok \(3 links, 3 policies, 2 rules\)/);
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-cli-'));
  try {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'links:\n  - name: wan1\n    interface: wan1\n    gateway: 198.18.2\n    weight: -1\n');
    const r = await cli('check', '-c', bad);
    assert.equal(r.code, 1);
    assert.match(r.err, /2 problems/);
    assert.match(r.err, /links\[0\]\.gateway: expected an IPv4 or IPv6 address, got "198\.18\.2"/);
    assert.match(r.err, /links\[0\]\.weight: expected a number >= 0, got -1/);
    const missing = await cli('check', '-c', join(dir, 'nope.yaml'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /cannot read \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status without a daemon: exit 1 and a hint', async () => {
  const r = await cli('status', '-s', '/nonexistent/wanbraid.sock');
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot connect: ENOENT \(is the daemon running\? try -s SOCKET\)/);
});

test('the committed launcher runs the built CLI', () => {
  const r = spawnSync(BIN, ['check', '-c', EXAMPLE, '--no-system'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const u = spawnSync(BIN, ['nope'], { encoding: 'utf8' });
  assert.equal(u.status, 2);
});

test('link, set and check --plan: bad arguments are usage errors naming what was wrong, before any socket is tried', async () => {
  const cases: [string[], RegExp][] = [
    [['link'], /link: missing argument/],
    [['link', 'wan1'], /link: missing argument/],
    [['link', 'wan1', 'sideways'], /link: action must be down, up or auto, got "sideways"/],
    [['link', 'wan1', 'down', 'now'], /link: unexpected argument "now"/],
    [['set', 'bypass'], /set: missing argument/],
    [['set', 'bypass', 'grow', '198.18.0.0/15'], /set: operation must be add, delete, flush or list, got "grow"/],
    [['set', 'bypass', 'add'], /set: add needs at least one prefix/],
    [['set', 'bypass', 'flush', '198.18.0.0/15'], /set: flush takes no prefixes/],
    [['check', '-c', EXAMPLE, '--plan', '--json'], /--json and --plan exclude each other/],
    [['check', '-c', EXAMPLE, '--offline', 'wan1'], /--offline goes with --plan/],
    [['check', '-c', EXAMPLE, '--plan', '--offline', 'wan7'], /--offline: unknown link "wan7"/],
  ];
  for (const [argv, msg] of cases) {
    const r = await cli(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.err, msg, argv.join(' '));
  }
});

test('link and set against a socket nobody listens on: exit 1 with the socket named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-cli-'));
  try {
    const sock = join(dir, 'none.sock');
    for (const argv of [
      ['link', 'wan1', 'down', '-s', sock],
      ['set', 'bypass', 'list', '-s', sock],
    ]) {
      const r = await cli(...argv);
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.err, new RegExp(`${sock.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot connect: ENOENT \\(is the daemon running\\?`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('check reads relay key files as the daemon will: missing is a warning; loose, foreign-owned or malformed is an error naming the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-cli-'));
  try {
    const cfg = (key: string) => {
      const f = join(dir, 'exit.yaml');
      writeFileSync(f, `relay:\n  exit:\n    listen: 0.0.0.0:7000\n    keyFile: ${key}\n    allow: [198.19.0.10:5201]\n`);
      return f;
    };
    let r = await cli('check', '-c', cfg(join(dir, 'missing.key')), '--no-system');
    assert.equal(r.code, 0);
    assert.match(r.err, /^warning: relay\.exit\.keyFile: cannot read key file .*missing\.key \(ENOENT\) \(the daemon refuses to start without it\)$/m);
    writeFileSync(join(dir, 'bad.key'), 'not a key\n', { mode: 0o600 });
    r = await cli('check', '-c', cfg(join(dir, 'bad.key')), '--no-system');
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: relay\.exit\.keyFile: .*bad\.key: expected base64/m);
    const good = join(dir, 'good.key');
    writeFileSync(good, (await cli('keygen')).out, { mode: 0o600 });
    r = await cli('check', '-c', cfg(good), '--no-system');
    assert.equal(r.code, 0);
    assert.equal(r.err, '');
    chmodSync(good, 0o640);
    r = await cli('check', '-c', cfg(good), '--no-system');
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: relay\.exit\.keyFile: key file .*good\.key is accessible by group or others \(mode 0640\): run `chmod 600 .*good\.key`/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('check: a 0600 key owned by another user is an error naming chown', { skip: process.geteuid?.() !== 0 && 'chown to another uid needs root' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-cli-'));
  try {
    const key = join(dir, 'other.key');
    writeFileSync(key, (await cli('keygen')).out, { mode: 0o600 });
    const f = join(dir, 'exit.yaml');
    writeFileSync(f, `relay:\n  exit:\n    listen: 0.0.0.0:7000\n    keyFile: ${key}\n    allow: [198.19.0.10:5201]\n`);
    let r = await cli('check', '-c', f, '--no-system');
    assert.equal(r.code, 0, 'positive control: the same file owned by us passes');
    chownSync(key, 65534, 65534);
    r = await cli('check', '-c', f, '--no-system');
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: relay\.exit\.keyFile: key file .*other\.key is owned by uid 65534, not by uid 0 that reads it: run `chown 0 .*other\.key`/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('check warns when two exit keys are the same key (those entries could pose as the exit to each other)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-cli-'));
  try {
    const k = (await cli('keygen')).out;
    for (const n of ['a', 'b', 'c']) writeFileSync(join(dir, `${n}.key`), n === 'c' ? (await cli('keygen')).out : k, { mode: 0o600 });
    const f = join(dir, 'exit.yaml');
    const keys = ['a', 'b', 'c'].map((n) => `{ name: ${n}, keyFile: ${join(dir, `${n}.key`)} }`).join(', ');
    writeFileSync(f, `relay:\n  exit:\n    listen: 0.0.0.0:7000\n    keys: [${keys}]\n    allow: [198.19.0.10:5201]\n`);
    const r = await cli('check', '-c', f, '--no-system');
    assert.equal(r.code, 0);
    assert.deepEqual(r.err.trim().split('\n'), [
      'warning: relay.exit.keys[1].keyFile: the same key as relay.exit.keys[0].keyFile: entries that share a key can pose as the exit to each other (give each entry its own `wanbraid keygen`)',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('check: an untrusted hooks directory or hook is an error (exit 1) naming the file and why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wanbraid-cli-'));
  try {
    const hooks = join(dir, 'hooks.d');
    mkdirSync(hooks, { mode: 0o755 });
    writeFileSync(join(hooks, '10-notify'), '#!/bin/sh\n', { mode: 0o755 });
    const file = join(dir, 'w.yaml');
    writeFileSync(file, `hooks: { dir: ${hooks} }\n`);
    const ok = await cli('check', '-c', file);
    assert.equal(ok.code, 0, ok.err);
    chmodSync(join(hooks, '10-notify'), 0o775);
    const bad = await cli('check', '-c', file);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, `error: hooks.dir: ${join(hooks, '10-notify')}: writable by its group (mode 0775): not run\n`);
    chmodSync(hooks, 0o777);
    const badDir = await cli('check', '-c', file);
    assert.equal(badDir.code, 1);
    assert.match(badDir.err, /hooks\.d: writable by its group and others \(mode 0777\): no hook in it runs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
