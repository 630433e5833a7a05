import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { parseConfigText } from '../../../src/config/load.js';
import { checkTokenFile, loadTokenFile, parseToken, readTokenFile } from '../../../src/web/token.js';
import { makeCheck } from '../../../src/cli/commands/check.js';
import type { CliIO } from '../../../src/cli/args.js';

const T = 'f3a9c2e1b7d84a6e9c0b5d2f1a8e7c64';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'wanbraid-web-token-'));
}

test('token text: one line of 16-256 URL-safe characters, comments and blanks ignored', () => {
  assert.deepEqual(parseToken(`${T}\n`), { token: T });
  assert.deepEqual(parseToken(`# made by openssl rand -hex 16\n\n  ${T}  \n`), { token: T });
  assert.match((parseToken('') as { problem: string }).problem, /holds no token/);
  assert.match((parseToken(`${T}\n${T}`) as { problem: string }).problem, /one line, found 2/);
  assert.match((parseToken('short') as { problem: string }).problem, /16 to 256 characters .* \(got 5 characters\)/);
  assert.match((parseToken('a'.repeat(20) + ' b') as { problem: string }).problem, /with others among them/);
  assert.match((parseToken('a'.repeat(20) + '+/=') as { problem: string }).problem, /with others/);
  assert.deepEqual(parseToken('Ab0._~-'.repeat(3)), { token: 'Ab0._~-'.repeat(3) });
});

test('token file: 0600 is read; group/other bits, a directory or a FIFO are refused with the fix', () => {
  const dir = scratch();
  try {
    const f = join(dir, 'web.token');
    writeFileSync(f, `${T}\n`);
    chmodSync(f, 0o600);
    assert.deepEqual(readTokenFile(f), { token: T });
    assert.equal(loadTokenFile(f), T);
    for (const mode of [0o640, 0o604, 0o644]) {
      chmodSync(f, mode);
      const r = readTokenFile(f);
      assert.ok('problem' in r);
      assert.match(r.problem, new RegExp(`accessible by group or others \\(mode 0${mode.toString(8)}\\): run \`chmod 600 ${f}\``));
      assert.throws(() => loadTokenFile(f), (e: unknown) => e instanceof ConfigError && e.issues[0]!.path === 'web.tokenFile');
    }
    chmodSync(f, 0o600);
    assert.match((readTokenFile(dir) as { problem: string }).problem, /not a regular file/);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    assert.match((readTokenFile(fifo) as { problem: string }).problem, /not a regular file/);
    const missing = readTokenFile(join(dir, 'nope'));
    assert.deepEqual(missing, { problem: `cannot read token file ${join(dir, 'nope')} (ENOENT)`, code: 'ENOENT' });
    writeFileSync(f, 'x'.repeat(5000));
    assert.match((readTokenFile(f) as { problem: string }).problem, /over 4096 bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('check: a token file readable by others is an error, a missing one a warning, none configured nothing', () => {
  const dir = scratch();
  try {
    const f = join(dir, 'web.token');
    writeFileSync(f, `${T}\n`);
    const cfg = (file: string) => parseConfigText(`web:\n  listen: 198.18.100.1:8787\n  tokenFile: ${file}\n`);
    chmodSync(f, 0o644);
    const bad = checkTokenFile(cfg(f));
    assert.equal(bad.errors.length, 1);
    assert.equal(bad.errors[0]!.path, 'web.tokenFile');
    assert.match(bad.errors[0]!.message, /accessible by group or others .* \(the daemon refuses it\)/);
    chmodSync(f, 0o600);
    assert.deepEqual(checkTokenFile(cfg(f)), { errors: [], warnings: [] });
    const gone = checkTokenFile(cfg(join(dir, 'nope')));
    assert.deepEqual(gone.errors, []);
    assert.match(gone.warnings[0]!.message, /ENOENT.*refuses to start without it/);
    assert.deepEqual(checkTokenFile(parseConfigText('web: {}\n')), { errors: [], warnings: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wanbraid check: a token file readable by others fails the check (exit 1, field and fix named); 0600 passes', async () => {
  const dir = scratch();
  try {
    const f = join(dir, 'web.token');
    writeFileSync(f, `${T}\n`);
    chmodSync(f, 0o644);
    const cfgFile = join(dir, 'wanbraid.yaml');
    writeFileSync(cfgFile, `web:\n  listen: 198.18.100.1:8787\n  tokenFile: ${f}\n`);
    const run = async () => {
      let out = '';
      let err = '';
      const io: CliIO = { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n') };
      const code = await makeCheck(() => Promise.reject(new Error('no system probe with --no-system'))).run(['-c', cfgFile, '--no-system'], io);
      return { code, out, err };
    };
    const bad = await run();
    assert.equal(bad.code, 1);
    assert.match(bad.err, new RegExp(`^error: web\\.tokenFile: token file ${f} is accessible by group or others \\(mode 0644\\): run \`chmod 600 ${f}\` \\(the daemon refuses it\\)$`, 'm'));
    assert.equal(bad.out, '');
    chmodSync(f, 0o600);
    const good = await run();
    assert.equal(good.code, 0, good.err);
    assert.match(good.out, /: ok \(0 links/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
