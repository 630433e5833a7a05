/** `wanbraid keygen`: print a new relay key (the content of a `keyFile`) on stdout. Touches nothing. */
import { parse, EXIT_OK, type Command } from '../args.js';
import { generateKey } from '../../relay/key.js';

export const keygen: Command = {
  summary: 'print a new relay key for relay keyFile',
  usage: `usage: wanbraid keygen

Prints 32 random bytes in base64 on one line: the shared key of a relay entry and its exit.
Save it on both hosts, readable by root only:

  umask 077; wanbraid keygen > /etc/wanbraid/relay.key`,
  async run(argv, io) {
    parse('keygen', argv, {});
    io.out(generateKey());
    return EXIT_OK;
  },
};
