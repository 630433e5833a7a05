/** `wanbraid link NAME down|up|auto`: the operator's override of one link (maintenance), over the control socket. */
import { parse, EXIT_FAIL, EXIT_OK, type Command } from '../args.js';
import { request, DEFAULT_SOCKET } from '../../status/client.js';
import { UsageError } from '../../errors.js';
import { socketFrom } from '../socket-path.js';

const ACTIONS = ['down', 'up', 'auto'] as const;

export const link: Command = {
  summary: 'force a link down or up, or hand it back to its probes',
  usage: `usage: wanbraid link NAME down|up|auto [-s SOCKET | -c FILE]

  down   take the link out of service (state disabled) whatever its probes say
  up     keep it in service (online) whatever its probes say
  auto   end the override: probes and the kernel decide again

The override is shown in wanbraid status, kept across reloads, and ends with "auto" or a restart.

  -s, --socket PATH   control socket (default ${DEFAULT_SOCKET})
  -c, --config FILE   take the socket path from this configuration file`,
  async run(argv, io) {
    const { values, positionals } = parse('link', argv, { socket: { type: 'string', short: 's' }, config: { type: 'string', short: 'c' } }, { positionals: [2, 2] });
    const [name, action] = positionals as [string, string];
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`link: action must be down, up or auto, got "${action}"`);
    const reply = await request(socketFrom(values), { cmd: 'link', link: name, action });
    if (!reply.ok) {
      io.err(`wanbraid link: ${reply.error.message}`);
      return EXIT_FAIL;
    }
    io.out(`${String(reply.link)}: ${String(reply.state)} (${String(reply.reason)})`);
    return EXIT_OK;
  },
};
