/** Key files: what keygen prints is accepted; anything else is refused with the field and the reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, loadKeyFile, parseKey } from '../../../src/relay/key.js';
import { ConfigError } from '../../../src/errors.js';

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

test('key files: unreadable and malformed are config errors naming the field; loose modes warn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-key-'));
  const good = join(dir, 'good.key');
  writeFileSync(good, generateKey() + '\n', { mode: 0o600 });
  chmodSync(good, 0o600);
  assert.equal(loadKeyFile(good, 'relay.exit.keyFile').warning, undefined);
  chmodSync(good, 0o644);
  assert.match(loadKeyFile(good, 'relay.exit.keyFile').warning!, /readable by group or others \(mode 644\)/);
  assert.throws(
    () => loadKeyFile(join(dir, 'missing.key'), 'relay.entries[0].keyFile'),
    (e: unknown) => e instanceof ConfigError && e.issues[0]!.path === 'relay.entries[0].keyFile' && /cannot read key file .*ENOENT/.test(e.issues[0]!.message),
  );
  const bad = join(dir, 'bad.key');
  writeFileSync(bad, 'not a key\n');
  assert.throws(() => loadKeyFile(bad, 'relay.exit.keyFile'), /bad.key: expected base64/);
});
