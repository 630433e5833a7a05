/**
 * Errors with stable codes.
 *
 * Every error wanbraid raises on purpose is a {@link WanbraidError}: callers branch on `code`
 * (a string literal that never changes once released), never on the message text, which is for
 * people. A wrapped lower-level failure is kept in `cause`. Kernel failures carry the errno name
 * and the kernel's extended-ack text in {@link KernelError}.
 */

export type ErrorCode =
  | 'WB_CONFIG_INVALID'
  | 'WB_CONFIG_READ'
  | 'WB_USAGE'
  | 'WB_SOCKET_CONNECT'
  | 'WB_SOCKET_PROTOCOL'
  | 'WB_REQUEST_INVALID'
  | 'WB_PERMISSION'
  | 'WB_BUSY'
  | 'WB_KERNEL'
  | 'WB_NFT'
  | 'WB_NFT_LIBRARY'
  | 'WB_COMMAND_FAILED'
  | 'WB_LAB'
  | 'WB_NATIVE'
  | 'WB_RELAY_AUTH'
  | 'WB_RELAY_PROTOCOL'
  | 'WB_RELAY_REFUSED'
  | 'WB_RELAY_LISTEN'
  | 'WB_METRICS_LISTEN'
  | 'WB_WEB_LISTEN'
  | 'WB_TIMEOUT'
  | 'WB_INTERNAL';

export class WanbraidError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WanbraidError';
    this.code = code;
  }
}

/** One problem found in a configuration file: a dotted/indexed field path and what was wrong. */
export interface ConfigIssue {
  /** e.g. `links[1].gateway`; empty for the document root. */
  path: string;
  message: string;
}

export class ConfigError extends WanbraidError {
  readonly issues: readonly ConfigIssue[];
  readonly file: string | undefined;
  constructor(issues: readonly ConfigIssue[], file?: string) {
    const where = file ? `${file}: ` : '';
    super('WB_CONFIG_INVALID', `${where}${issues.length} problem${issues.length === 1 ? '' : 's'}:\n` + issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
    this.file = file;
  }
}

export function formatIssue(i: ConfigIssue): string {
  return i.path ? `  ${i.path}: ${i.message}` : `  ${i.message}`;
}

export class UsageError extends WanbraidError {
  constructor(message: string) {
    super('WB_USAGE', message);
    this.name = 'UsageError';
  }
}

/** A netlink request the kernel refused: `errno` is the symbolic name (EEXIST), `extack` the kernel's text. */
export class KernelError extends WanbraidError {
  readonly errno: string;
  readonly extack: string | undefined;
  readonly op: string;
  constructor(op: string, errno: string, extack?: string, options?: { cause?: unknown }) {
    super('WB_KERNEL', `${op}: ${errno}${extack ? ` (${extack})` : ''}`, options);
    this.name = 'KernelError';
    this.errno = errno;
    this.extack = extack;
    this.op = op;
  }
}

/** Narrow an unknown thrown value to a message for logs and replies. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function errorCode(err: unknown): string {
  if (err instanceof WanbraidError) return err.code;
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return 'WB_INTERNAL';
}
