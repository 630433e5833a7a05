/**
 * Key files: what keygen prints is accepted; anything else is refused with the field, the file,
 * the reason and the fix. The owner and mode are checked on the opened file (fstat): a key
 * accessible by group or others, or owned by another user, is refused, not warned about.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, chownSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, loadKeyFile, loadRelayKeys, checkKeyFiles, parseKey } from '../../../src/relay/key.js';
import { parseConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';

const isRoot = process.geteuid?.() === 0;

function keyIn(dir: string, name: string, mode = 0o600, text = generateKey() + '\n'): string {
  const f = join(dir, name);
  writeFileSync(f, text, { mode });
  chmodSync(f, mode); // writeFileSync's mode is filtered by the umask
  return f;
}

const refused = (file: string, re: RegExp) =>
  assert.throws(
    () => loadKeyFile(file, 'relay.exit.keyFile'),
    (e: unknown) => e instanceof ConfigError && e.issues.length === 1 && e.issues[0]!.path === 'relay.exit.keyFile' && re.test(e.issues[0]!.message),
    String(re),
  );

test('a generated key parses to 32 bytes; comments and blank lines are ignored', () => {
  const k = generateKey();
  assert.match(k, /^[A-Za-z0-9+/]{43}=$/);
  const b = parseKey(`# relay key\n\n${k}\n`);
  assert.ok(Buffer.isBuffer(b) && b.length === 32);
  assert.notEqual(generateKey(), k);
});

test('malformed keys say what is wrong', () => {
  assert.match(parseKey('') as string, /holds no key/);
  assert.match(parseKey('abc!\n') as string, /base64/);
  assert.match(parseKey('AAAA\n') as string, /32 bytes of key, got 3/);
  assert.match(parseKey(`${generateKey()}\n${generateKey()}\n`) as string, /one line/);
});

test('key files: unreadable and malformed are config errors naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-key-'));
  const k = generateKey();
  assert.equal(loadKeyFile(keyIn(dir, 'good.key', 0o600, `${k}\n`), 'relay.exit.keyFile').toString('base64'), k);
  assert.throws(
    () => loadKeyFile(join(dir, 'missing.key'), 'relay.entries[0].keyFile'),
    (e: unknown) => e instanceof ConfigError && e.issues[0]!.path === 'relay.entries[0].keyFile' && /cannot read key file .*ENOENT/.test(e.issues[0]!.message),
  );
  refused(keyIn(dir, 'bad.key', 0o600, 'not a key\n'), /bad.key: expected base64/);
  refused(keyIn(dir, 'big.key', 0o600, '#'.repeat(5000) + '\n' + k + '\n'), /big\.key is 5046 bytes, not a key file/);
});

test('a key accessible by group or others is refused (0644, 0640, 0604, 0660), naming chmod 600; 0600 and 0400 pass', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-key-'));
  const f = keyIn(dir, 'relay.key');
  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o666, 0o610]) {
    chmodSync(f, mode);
    refused(f, new RegExp(`relay\\.key is accessible by group or others \\(mode 0${mode.toString(8)}\\): run \`chmod 600 .*relay\\.key\``));
  }
  for (const mode of [0o600, 0o400]) {
    chmodSync(f, mode);
    assert.equal(loadKeyFile(f, 'relay.exit.keyFile').length, 32, `mode ${mode.toString(8)} accepted`);
  }
});

test('a 0600 key owned by another user is refused, naming chown', { skip: !isRoot && 'chown to another uid needs root' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-key-'));
  const f = keyIn(dir, 'relay.key');
  assert.equal(loadKeyFile(f, 'relay.exit.keyFile').length, 32, 'positive control: ours is accepted');
  chownSync(f, 65534, 65534);
  refused(f, /relay\.key is owned by uid 65534, not by uid 0 that reads it: run `chown 0 .*relay\.key`/);
  // The group is not the question (root's files are often group root or wheel); the mode is.
  chownSync(f, 0, 65534);
  assert.equal(loadKeyFile(f, 'relay.exit.keyFile').length, 32);
});

test('the check is on the opened file: a symlink is judged by its target; a FIFO or a directory is refused without blocking', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-key-'));
  const target = keyIn(dir, 'real.key');
  const link = join(dir, 'link.key');
  symlinkSync(target, link); // the link itself is mode 0777
  assert.equal(loadKeyFile(link, 'relay.exit.keyFile').length, 32);
  chmodSync(target, 0o644);
  refused(link, /link\.key is accessible by group or others \(mode 0644\)/);
  const fifo = join(dir, 'fifo.key');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  refused(fifo, /fifo\.key is not a regular file/);
  const d = join(dir, 'dir.key');
  mkdirSync(d, { mode: 0o700 });
  refused(d, /dir\.key is not a regular file|EISDIR/);
});

test('loadRelayKeys: per-entry keys at the exit by name, the entry key under keyName (default its name), every problem at once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-key-'));
  const a = keyIn(dir, 'a.key');
  const b = keyIn(dir, 'b.key');
  const cfg = parseConfigText(`relay:
  entries:
    - { name: east, listen: 127.0.0.1:1, target: 127.0.0.1:2, exit: 127.0.0.1:3, keyFile: ${a}, paths: [{ via: 127.0.0.1:3 }] }
    - { name: west, keyName: branch2, listen: 127.0.0.1:4, target: 127.0.0.1:2, exit: 127.0.0.1:3, keyFile: ${b}, paths: [{ via: 127.0.0.1:3 }] }
  exit: { listen: 127.0.0.1:3, keys: [{ name: east, keyFile: ${a} }, { name: branch2, keyFile: ${b} }], allow: [127.0.0.1:2] }
`);
  const k = loadRelayKeys(cfg);
  assert.equal(k.entries.get('east')!.name, 'east');
  assert.equal(k.entries.get('west')!.name, 'branch2');
  assert.ok(k.exit!.lookup('east')!.psk.equals(k.entries.get('east')!.psk));
  assert.ok(k.exit!.lookup('branch2')!.psk.equals(k.entries.get('west')!.psk));
  assert.equal(k.exit!.lookup('west'), undefined, 'a name the exit does not list is unknown');
  assert.equal(k.exit!.shared, undefined);

  // The version-1 layout: one shared key for any name.
  const shared = loadRelayKeys(parseConfigText(`relay:\n  exit: { listen: 127.0.0.1:3, keyFile: ${a}, allow: [127.0.0.1:2] }\n`));
  assert.ok(shared.exit!.lookup('anything')!.psk.equals(k.entries.get('east')!.psk));

  chmodSync(a, 0o644);
  assert.throws(
    () => loadRelayKeys(cfg),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.issues.map((i) => i.path).join(',') === 'relay.entries[0].keyFile,relay.exit.keys[0].keyFile' &&
      e.issues.every((i) => /chmod 600/.test(i.message)),
  );
  const chk = checkKeyFiles(cfg);
  assert.deepEqual(
    chk.errors.map((i) => i.path),
    ['relay.entries[0].keyFile', 'relay.exit.keys[0].keyFile'],
  );
});
