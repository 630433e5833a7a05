/**
 * Running external programs (ip, nft, conntrack, tc): argv arrays only, never a shell string, so
 * no value from a config or a socket can become shell syntax. Output is captured; a non-zero
 * exit becomes a {@link CommandError} with the program's stderr in the message.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { WanbraidError } from '../errors.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Written to the program's stdin, then stdin is closed. */
  input?: string;
  /** Kill the program after this many milliseconds (default 30 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve with the result instead of throwing when the exit code is not 0. */
  allowFail?: boolean;
}

export class CommandError extends WanbraidError {
  readonly argv: readonly string[];
  readonly result: ExecResult;
  constructor(argv: readonly string[], result: ExecResult) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(0, 5).join(' | ');
    super('WB_COMMAND_FAILED', `${argv.join(' ')}: exit ${result.code}${detail ? `: ${detail}` : ''}`);
    this.name = 'CommandError';
    this.argv = argv;
    this.result = result;
  }
}

export function exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new WanbraidError('WB_INTERNAL', 'exec: empty argv'));
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env };
    if (opts.cwd) so.cwd = opts.cwd;
    const child = spawn(cmd, args, so);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new WanbraidError('WB_COMMAND_FAILED', `${argv.join(' ')}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? (signal ? 128 : 1) };
      if (result.code !== 0 && !opts.allowFail) reject(new CommandError(argv, result));
      else resolve(result);
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
  });
}
