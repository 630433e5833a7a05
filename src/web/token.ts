/**
 * The dashboard's access token file (`web.tokenFile`): one line of 16 to 256 URL-safe characters
 * (`[A-Za-z0-9._~-]`, e.g. `openssl rand -hex 32`), `#` comment lines and blank lines ignored.
 * Checked like a relay key file, on the opened descriptor: a regular file of at most 4 KiB, owned
 * by the reading process's effective user, with no group or other permission bits. A file that
 * fails any check is refused with a message naming the file, what is wrong and the fix.
 */
import { readPrivateFile } from '../util/private-file.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { Config } from '../config/schema.js';

const MAX_TOKEN_FILE = 4096;
export const TOKEN_PATTERN = /^[A-Za-z0-9._~-]{16,256}$/;

/** The token in the file's text, or what is wrong with it. */
export function parseToken(text: string): { token: string } | { problem: string } {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) return { problem: 'the file holds no token (make one with `openssl rand -hex 32`)' };
  if (lines.length > 1) return { problem: `expected one line, found ${lines.length} lines` };
  const t = lines[0]!;
  if (!TOKEN_PATTERN.test(t)) return { problem: `expected 16 to 256 characters of A-Z a-z 0-9 . _ ~ - (got ${t.length} characters${/[^A-Za-z0-9._~-]/.test(t) ? ' with others among them' : ''})` };
  return { token: t };
}

/** Open, fstat, check, read (util/private-file.ts): the token, or the problem (with the errno code when it could not be opened). */
export function readTokenFile(file: string): { token: string } | { problem: string; code?: string } {
  const r = readPrivateFile(file, 'token file', MAX_TOKEN_FILE);
  if ('problem' in r) return r;
  const t = parseToken(r.text);
  return 'token' in t ? t : { problem: `${file}: ${t.problem}` };
}

/** The token for the daemon; a {@link ConfigError} on `web.tokenFile` when the file is refused. */
export function loadTokenFile(file: string): string {
  const t = readTokenFile(file);
  if ('problem' in t) throw new ConfigError([{ path: 'web.tokenFile', message: t.problem }]);
  return t.token;
}

/**
 * For `wanbraid check`: the token file read as the daemon will. A missing file is a warning (the
 * config may be checked on another machine); any other problem is an error.
 */
export function checkTokenFile(config: Config): { errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const file = config.web?.tokenFile;
  if (file === undefined) return { errors: [], warnings: [] };
  const t = readTokenFile(file);
  if (!('problem' in t)) return { errors: [], warnings: [] };
  if ('code' in t && t.code === 'ENOENT') return { errors: [], warnings: [{ path: 'web.tokenFile', message: `${t.problem} (the daemon refuses to start without it)` }] };
  return { errors: [{ path: 'web.tokenFile', message: `${t.problem} (the daemon refuses it)` }], warnings: [] };
}
