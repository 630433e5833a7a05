/**
 * The error a native call raises when the system call under it fails: code `WB_NATIVE`, the
 * errno name (`EADDRNOTAVAIL`, `ENOENT`) in `errno`, the operation in `op`, and the addon's own
 * error as `cause`.
 */
import { WanbraidError } from '../errors.js';

export class NativeCallError extends WanbraidError {
  /** Symbolic errno, e.g. `EPERM`; `EUNKNOWN` when the addon gave none. */
  readonly errno: string;
  readonly op: string;
  constructor(op: string, cause: unknown) {
    const errno = typeof (cause as NodeJS.ErrnoException | undefined)?.code === 'string' ? (cause as NodeJS.ErrnoException).code! : 'EUNKNOWN';
    super('WB_NATIVE', `${op}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'NativeCallError';
    this.errno = errno;
    this.op = op;
  }
}
