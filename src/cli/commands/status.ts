/** `wanbraid status`: ask the daemon for its state; a table by default, the raw object with --json. */
import { parse, EXIT_FAIL, EXIT_OK, type Command } from '../args.js';
import { request, DEFAULT_SOCKET } from '../../status/client.js';
import type { StatusObject } from '../../status/types.js';
import { formatStatus } from '../format-status.js';
import { socketFrom } from '../socket-path.js';

export const status: Command = {
  summary: 'show links, balancing and relay state',
  usage: `usage: wanbraid status [--json] [-s SOCKET | -c FILE]

  --json              print the daemon's status object as JSON
  -s, --socket PATH   control socket (default ${DEFAULT_SOCKET})
  -c, --config FILE   take the socket path from this configuration file`,
  async run(argv, io) {
    const { values } = parse('status', argv, {
      json: { type: 'boolean', default: false },
      socket: { type: 'string', short: 's' },
      config: { type: 'string', short: 'c' },
    });
    const path = socketFrom(values);
    const reply = await request(path, { cmd: 'status' });
    if (!reply.ok) {
      io.err(`wanbraid status: ${reply.error.message}`);
      return EXIT_FAIL;
    }
    const st = reply.status as StatusObject;
    io.out(values.json ? JSON.stringify(st, null, 2) : formatStatus(st, Date.now(), { color: io.color === true }));
    return EXIT_OK;
  },
};
