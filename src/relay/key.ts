/**
 * The shared relay key: 32 random bytes, stored base64 on one line in the `keyFile` that entry and
 * exit share (`wanbraid keygen` prints a new one). Lines starting with `#` and blank lines are
 * ignored. A missing, unreadable or malformed file is a {@link ConfigError} naming the config
 * field, the file and what was wrong; a key readable by group or others is reported to the caller
 * as a warning (the relay still starts).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { Config } from '../config/schema.js';
import { KEY_LEN } from './protocol/handshake.js';

export function generateKey(): string {
  return randomBytes(KEY_LEN).toString('base64');
}

/** Parse key file text; returns the key or a message saying what is wrong. */
export function parseKey(text: string): Buffer | string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) return 'the file holds no key (run `wanbraid keygen` to make one)';
  if (lines.length > 1) return `expected one line of base64, found ${lines.length} lines`;
  const line = lines[0]!;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line) || line.length % 4 !== 0) return 'expected base64 text (from `wanbraid keygen`)';
  const key = Buffer.from(line, 'base64');
  if (key.length !== KEY_LEN) return `expected ${KEY_LEN} bytes of key, got ${key.length}`;
  return key;
}

export interface LoadedKey {
  key: Buffer;
  /** Set when the file's mode lets group or others read it. */
  warning: string | undefined;
}

/** Read a key file; `field` is the config path (e.g. `relay.exit.keyFile`) used in errors. */
export function loadKeyFile(file: string, field: string): LoadedKey {
  let text: string;
  let mode = 0;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([{ path: field, message: `cannot read key file ${file} (${code})` }]);
  }
  const key = parseKey(text);
  if (typeof key === 'string') throw new ConfigError([{ path: field, message: `${file}: ${key}` }]);
  const warning = (mode & 0o077) !== 0 ? `key file ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it` : undefined;
  return { key, warning };
}

/**
 * Every relay key file of a config, read as the daemon will read it at start: the problems (as
 * config issues with their field paths) and the warnings (loose file modes). Touches nothing.
 */
export function checkKeyFiles(config: Config): { issues: ConfigIssue[]; warnings: string[] } {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const one = (file: string, field: string) => {
    try {
      const k = loadKeyFile(file, field);
      if (k.warning) warnings.push(`${field}: ${k.warning}`);
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
    }
  };
  config.relay?.entries.forEach((e, i) => one(e.keyFile, `relay.entries[${i}].keyFile`));
  if (config.relay?.exit) one(config.relay.exit.keyFile, 'relay.exit.keyFile');
  return { issues, warnings };
}
