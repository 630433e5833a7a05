/**
 * The dashboard's access token file (`web.tokenFile`): one line of 16 to 256 URL-safe characters
 * (`[A-Za-z0-9._~-]`, e.g. `openssl rand -hex 32`), `#` comment lines and blank lines ignored.
 * Checked like a relay key file, on the opened descriptor: a regular file of at most 4 KiB, owned
 * by the reading process's effective user, with no group or other permission bits. A file that
 * fails any check is refused with a message naming the file, what is wrong and the fix.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
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

/** Open, fstat, check, read: the token, or the problem (with the errno code when it could not be opened). */
export function readTokenFile(file: string): { token: string } | { problem: string; code?: string } {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO in its place must not hang the daemon (it is refused below).
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { problem: `cannot read token file ${file} (${code})`, code };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { problem: `token file ${file} is not a regular file` };
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    if ((st.mode & 0o077) !== 0) return { problem: `token file ${file} is accessible by group or others (mode ${mode}): run \`chmod 600 ${file}\`` };
    const me = process.geteuid?.() ?? 0;
    if (st.uid !== me) return { problem: `token file ${file} is owned by uid ${st.uid}, not by uid ${me} that reads it: run \`chown ${me} ${file}\`` };
    const buf = Buffer.alloc(MAX_TOKEN_FILE + 1);
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len > MAX_TOKEN_FILE) return { problem: `token file ${file} is over ${MAX_TOKEN_FILE} bytes, not a token file` };
    }
    const t = parseToken(buf.subarray(0, len).toString('utf8'));
    return 'token' in t ? t : { problem: `${file}: ${t.problem}` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { problem: `cannot read token file ${file} (${code})`, code };
  } finally {
    closeSync(fd);
  }
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
