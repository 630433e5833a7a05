/** `wanbraid keygen`: print a new relay key (the content of a `keyFile`) on stdout. Touches nothing. */
import { parse, EXIT_OK, type Command } from '../args.js';
import { generateKey } from '../../relay/key.js';

export const keygen: Command = {
  summary: 'print a new relay key (one entry\'s keyFile)',
  usage: `usage: wanbraid keygen

Prints 32 random bytes in base64 on one line: one relay entry's key. Save it as the entry's
keyFile and, on the exit, list the same file under relay.exit.keys with the entry's name (one key
per entry). Both files must be owned by the daemon's user with mode 0600 (anything looser is
refused):

  umask 077; wanbraid keygen > /etc/wanbraid/relay.key`,
  async run(argv, io) {
    parse('keygen', argv, {});
    io.out(generateKey());
    return EXIT_OK;
  },
};
