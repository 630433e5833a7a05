/** `wanbraid set NAME add|delete|flush|list PREFIX...`: change a runtime set (bypass, or one from `sets:`) over the control socket. */
import { parse, EXIT_FAIL, EXIT_OK, type Command } from '../args.js';
import { request, DEFAULT_SOCKET } from '../../status/client.js';
import { UsageError } from '../../errors.js';
import { socketFrom } from '../socket-path.js';

const OPS = ['add', 'delete', 'flush', 'list'] as const;

export const set: Command = {
  summary: 'add, delete, flush or list the prefixes of a runtime set',
  usage: `usage: wanbraid set NAME add|delete PREFIX... [-s SOCKET | -c FILE]
       wanbraid set NAME flush|list [-s SOCKET | -c FILE]

NAME is "bypass" (destinations that follow the main table) or a set from the configuration's
"sets:". PREFIX is an IPv4 or IPv6 address or prefix (198.18.7.0/24, 2001:db8:7::/48). The change
is one nft transaction for both families; it lasts until the daemon stops, or until a reload
changes that set in the configuration file.

  -s, --socket PATH   control socket (default ${DEFAULT_SOCKET})
  -c, --config FILE   take the socket path from this configuration file
      --json          print the set's elements as JSON`,
  async run(argv, io) {
    const { values, positionals } = parse(
      'set',
      argv,
      { socket: { type: 'string', short: 's' }, config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false } },
      { positionals: [2, Infinity] },
    );
    const [name, op, ...elements] = positionals as [string, string, ...string[]];
    if (!(OPS as readonly string[]).includes(op)) throw new UsageError(`set: operation must be add, delete, flush or list, got "${op}"`);
    if ((op === 'add' || op === 'delete') && elements.length === 0) throw new UsageError(`set: ${op} needs at least one prefix`);
    if ((op === 'flush' || op === 'list') && elements.length > 0) throw new UsageError(`set: ${op} takes no prefixes, got "${elements[0]}"`);
    const reply = await request(socketFrom(values), { cmd: 'set', set: name, op, elements });
    if (!reply.ok) {
      io.err(`wanbraid set: ${reply.error.message}`);
      return EXIT_FAIL;
    }
    const els = reply.elements as string[];
    if (values.json) io.out(JSON.stringify({ set: reply.set, elements: els }));
    else if (op === 'list') io.out(els.length > 0 ? els.join('\n') : `(${name} is empty)`);
    else io.out(`${name}: ${els.length} prefix${els.length === 1 ? '' : 'es'}`);
    return EXIT_OK;
  },
};
