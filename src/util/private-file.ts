/**
 * Reading a small secret file the way the daemon trusts one (relay keys, the dashboard's token):
 * opened without blocking (a FIFO in its place must not hang the daemon), then checked on the
 * opened descriptor — a regular file, no group or other permission bits, owned by the reading
 * process's effective user, at most `maxBytes` — and read with that bound. A refusal names the
 * file, what is wrong and the fix; `code` is the errno when the file could not be opened or read.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export type PrivateFile = { text: string } | { problem: string; code?: string };

const euid = (): number => process.geteuid?.() ?? 0;

/** `what` names the kind of file in messages ("key file", "token file"). */
export function readPrivateFile(file: string, what: string, maxBytes: number): PrivateFile {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { problem: `cannot read ${what} ${file} (${code})`, code };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { problem: `${what} ${file} is not a regular file` };
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    if ((st.mode & 0o077) !== 0) return { problem: `${what} ${file} is accessible by group or others (mode ${mode}): run \`chmod 600 ${file}\`` };
    const me = euid();
    if (st.uid !== me) return { problem: `${what} ${file} is owned by uid ${st.uid}, not by uid ${me} that reads it: run \`chown ${me} ${file}\`` };
    if (st.size > maxBytes) return { problem: `${what} ${file} is ${st.size} bytes, not a ${what} (over ${maxBytes} bytes)` };
    // Bounded even if the file grows between the fstat and the read.
    const buf = Buffer.alloc(maxBytes + 1);
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len > maxBytes) return { problem: `${what} ${file} is over ${maxBytes} bytes, not a ${what}` };
    }
    return { text: buf.subarray(0, len).toString('utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { problem: `cannot read ${what} ${file} (${code})`, code };
  } finally {
    closeSync(fd);
  }
}
