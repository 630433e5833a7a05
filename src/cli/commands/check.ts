/** `wanbraid check`: validate a configuration (and with --plan, print the kernel state it asks for). Touches nothing. */
import { parse, EXIT_FAIL, EXIT_OK, type Command } from '../args.js';
import { loadConfigFile, DEFAULT_CONFIG_PATH } from '../../config/load.js';
import { ConfigError, WanbraidError } from '../../errors.js';

export const check: Command = {
  summary: 'validate a configuration file',
  usage: `usage: wanbraid check [-c FILE] [--json]

Validates FILE (default ${DEFAULT_CONFIG_PATH}) and lists every problem with its field path.
Exit status: 0 valid, 1 invalid or unreadable, 2 usage error. Changes nothing on the system.

  -c, --config FILE   configuration file
      --json          print the typed configuration (with defaults) as JSON`,
  async run(argv, io) {
    const { values } = parse('check', argv, {
      config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH },
      json: { type: 'boolean', default: false },
    });
    const file = values.config;
    try {
      const cfg = loadConfigFile(file);
      if (values.json) io.out(JSON.stringify(cfg, null, 2));
      else io.out(`${file}: ok (${cfg.links.length} link${cfg.links.length === 1 ? '' : 's'}, ${Object.keys(cfg.policies).length} policies, ${cfg.rules.length} rules)`);
      return EXIT_OK;
    } catch (err) {
      if (err instanceof ConfigError || err instanceof WanbraidError) {
        io.err(err.message);
        return EXIT_FAIL;
      }
      throw err;
    }
  },
};
