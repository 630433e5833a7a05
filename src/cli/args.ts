/**
 * Argument parsing for subcommands on top of node:util parseArgs, turning its errors into
 * {@link UsageError} (exit code 2) with the command's name in the message.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(cmd: string, argv: string[], options: O, opts: { positionals?: [min: number, max: number] } = {}) {
  let r;
  try {
    r = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message.replace(/\. To specify a positional.*$/s, '') : String(err);
    throw new UsageError(`${cmd}: ${msg}`);
  }
  const [min, max] = opts.positionals ?? [0, 0];
  if (r.positionals.length < min) throw new UsageError(`${cmd}: missing argument (see wanbraid ${cmd} --help)`);
  if (r.positionals.length > max) throw new UsageError(`${cmd}: unexpected argument "${r.positionals[max]}"`);
  return r;
}

/** Output sinks, injectable for tests. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** `out` is a terminal that takes colour (not set: plain text). */
  color?: boolean;
  /** Redraw a progress line in place (set only when stderr is a terminal); '' clears it. */
  progress?: (line: string) => void;
}

export const stdio: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  // https://no-color.org: any NO_COLOR value turns colour off.
  color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
  ...(process.stderr.isTTY === true ? { progress: (line: string) => process.stderr.write(`\r\x1b[2K${line}`) } : {}),
};

export interface Command {
  /** One line for `wanbraid --help`. */
  summary: string;
  /** Full usage text for `wanbraid CMD --help`. */
  usage: string;
  run(argv: string[], io: CliIO): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;
