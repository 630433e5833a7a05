/**
 * The `wanbraid` command line: dispatches to one module per subcommand. Feels like ip/systemctl:
 * terse commands, `--json` where there is output, exit codes 0 ok, 1 failure, 2 usage.
 */
import { EXIT_FAIL, EXIT_OK, EXIT_USAGE, stdio, type CliIO, type Command } from './args.js';
import { check } from './commands/check.js';
import { keygen } from './commands/keygen.js';
import { run } from './commands/run.js';
import { status } from './commands/status.js';
import { lab } from './commands/lab.js';
import { link } from './commands/link.js';
import { set } from './commands/set.js';
import { events } from './commands/events.js';
import { speedtest } from './commands/speedtest.js';
import { UsageError, WanbraidError } from '../errors.js';
import { version } from '../version.js';

export const COMMANDS: Record<string, Command> = {
  run,
  check,
  status,
  events,
  link,
  set,
  speedtest,
  keygen,
  lab,
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: wanbraid COMMAND [OPTIONS]

Multi-WAN routing daemon: link health, per-flow balancing in the kernel, single-flow striping relay.

commands:
${lines.join('\n')}

  wanbraid COMMAND --help   options of one command
  wanbraid --version        print the version`;
}

export async function main(argv: string[], io: CliIO = stdio): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const sub = cmd === 'help' && rest[0] && Object.hasOwn(COMMANDS, rest[0]) ? COMMANDS[rest[0]] : undefined;
    if (sub) {
      io.out(sub.usage);
      return EXIT_OK;
    }
    (cmd === undefined ? io.err : io.out)(help());
    return cmd === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (cmd === '--version' || cmd === '-V') {
    io.out(`wanbraid ${version()}`);
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!command) {
    io.err(`wanbraid: unknown command "${cmd}" (see wanbraid --help)`);
    return EXIT_USAGE;
  }
  // Options after `--` belong to a program the command runs (`wanbraid lab exec NODE -- curl --help`).
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    io.out(command.usage);
    return EXIT_OK;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`wanbraid ${err.message}`);
      return EXIT_USAGE;
    }
    if (err instanceof WanbraidError) {
      io.err(`wanbraid ${cmd}: ${err.message}`);
      return EXIT_FAIL;
    }
    throw err;
  }
}
