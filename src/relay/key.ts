/**
 * Relay keys: 32 random bytes, stored base64 on one line in a key file (`wanbraid keygen` prints
 * a new one). An entry has one key (`keyFile`, sent under `keyName`); the exit holds one key per
 * entry (`keys: [{ name, keyFile }]`), or, the version-1 layout, one `keyFile` that every entry
 * shares (it then accepts any key name). Lines starting with `#` and blank lines are ignored.
 *
 * A key file is opened once and checked on the opened descriptor (fstat, so what is checked is
 * what is read): it must be a regular file of at most 4 KiB, owned by the reading process's
 * effective user, with no group or other permission bits. Anything else, like a missing,
 * unreadable or malformed file, is a {@link ConfigError} naming the config field, the file, what
 * was wrong and the fix; nothing starts or changes with it.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { readPrivateFile } from '../util/private-file.js';
import type { Config, RelayEntryConfig, RelayExitConfig } from '../config/schema.js';
import { KEY_LEN, helloMacKey, type PeerKey } from './protocol/handshake.js';

/** A key file larger than this is not a key file. */
const MAX_KEY_FILE = 4096;

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

/** Why a key file was refused; `code` is the errno for files that could not be opened. */
interface KeyFileProblem {
  code: string | undefined;
  message: string;
}

/** Open, fstat, check, read (util/private-file.ts): the key, or what is wrong with the file. */
function readKeyFile(file: string): Buffer | KeyFileProblem {
  const r = readPrivateFile(file, 'key file', MAX_KEY_FILE);
  if ('problem' in r) return { code: r.code, message: r.problem };
  const key = parseKey(r.text);
  return typeof key === 'string' ? { code: undefined, message: `${file}: ${key}` } : key;
}

/** Read a key file; `field` is the config path (e.g. `relay.exit.keyFile`) used in errors. */
export function loadKeyFile(file: string, field: string): Buffer {
  const k = readKeyFile(file);
  if (!Buffer.isBuffer(k)) throw new ConfigError([{ path: field, message: k.message }]);
  return k;
}

/** A key with its hello MAC key, as the handshake uses it. */
export function peerKey(psk: Buffer): PeerKey {
  return { psk, macKey: helloMacKey(psk) };
}

/**
 * The exit's keys: by key name, or (version-1 layout, `relay.exit.keyFile`) one key for every
 * name. {@link ExitKeys.lookup} is what the handshake calls.
 */
export class ExitKeys {
  constructor(
    readonly byName: ReadonlyMap<string, PeerKey>,
    readonly shared: PeerKey | undefined,
  ) {}

  lookup(name: string): PeerKey | undefined {
    return this.byName.get(name) ?? this.shared;
  }

  /** Stable text that changes when any key or name changes (never logged). */
  fingerprint(): string {
    return JSON.stringify([[...this.byName].map(([n, k]) => [n, k.psk.toString('base64')]), this.shared?.psk.toString('base64') ?? null]);
  }
}

/** The key name an entry sends: its `keyName`, else its `name`. */
export function entryKeyName(e: RelayEntryConfig): string {
  return e.keyName ?? e.name;
}

/** Every key file of the exit, with its field path. */
function exitKeyFiles(x: RelayExitConfig): { name: string | undefined; file: string; field: string }[] {
  const out: { name: string | undefined; file: string; field: string }[] = [];
  if (x.keyFile !== undefined) out.push({ name: undefined, file: x.keyFile, field: 'relay.exit.keyFile' });
  x.keys?.forEach((k, i) => out.push({ name: k.name, file: k.keyFile, field: `relay.exit.keys[${i}].keyFile` }));
  return out;
}

/** Every relay key file of a config, with its field path. */
function keyFiles(config: Config): { file: string; field: string }[] {
  const out = (config.relay?.entries ?? []).map((e, i) => ({ file: e.keyFile, field: `relay.entries[${i}].keyFile` }));
  if (config.relay?.exit) out.push(...exitKeyFiles(config.relay.exit));
  return out;
}

/** The keys a config asks for, all files read and checked; every problem in one ConfigError. */
export function loadRelayKeys(config: Config): { entries: Map<string, PeerKey & { name: string }>; exit: ExitKeys | undefined } {
  const problems: ConfigIssue[] = [];
  const load = (file: string, field: string): PeerKey | undefined => {
    const k = readKeyFile(file);
    if (Buffer.isBuffer(k)) return peerKey(k);
    problems.push({ path: field, message: k.message });
    return undefined;
  };
  const entries = new Map<string, PeerKey & { name: string }>();
  config.relay?.entries.forEach((e, i) => {
    const k = load(e.keyFile, `relay.entries[${i}].keyFile`);
    if (k) entries.set(e.name, { name: entryKeyName(e), ...k });
  });
  let exit: ExitKeys | undefined;
  const x = config.relay?.exit;
  if (x) {
    const byName = new Map<string, PeerKey>();
    let shared: PeerKey | undefined;
    for (const f of exitKeyFiles(x)) {
      const k = load(f.file, f.field);
      if (!k) continue;
      if (f.name === undefined) shared = k;
      else byName.set(f.name, k);
    }
    exit = new ExitKeys(byName, shared);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { entries, exit };
}

/**
 * Every relay key file of a config, read and checked as the daemon will at start. `errors`: files
 * that exist here and would be refused (loose mode, wrong owner, malformed, unreadable);
 * `warnings`: files missing here (the config may be checked on another machine than the one it
 * runs on), and an exit key shared by several names. Touches nothing.
 */
export function checkKeyFiles(config: Config): { errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const seen = new Map<string, string>();
  for (const { file, field } of keyFiles(config)) {
    const k = readKeyFile(file);
    if (Buffer.isBuffer(k)) {
      if (field.startsWith('relay.exit.keys[')) {
        const b64 = k.toString('base64');
        const prev = seen.get(b64);
        if (prev) warnings.push({ path: field, message: `the same key as ${prev}: entries that share a key can pose as the exit to each other (give each entry its own \`wanbraid keygen\`)` });
        else seen.set(b64, field);
      }
    } else if (k.code === 'ENOENT') warnings.push({ path: field, message: `${k.message} (the daemon refuses to start without it)` });
    else errors.push({ path: field, message: `${k.message} (the daemon refuses it)` });
  }
  return { errors, warnings };
}
