/**
 * `wanbraid run`: the foreground daemon systemd runs. Validates the config first (exit 1 with every
 * problem listed, nothing touched), then probes for the tools and kernel features it needs (exit 1
 * with one line per missing one, naming the Debian package; nothing touched), then runs until
 * SIGTERM/SIGINT (clean stop, exit 0). SIGHUP reloads. An unexpected internal error is logged, cleaned up after, and exits 1 so that
 * systemd's Restart=on-failure brings the daemon back.
 */
import { parse, EXIT_FAIL, EXIT_OK, type Command } from '../args.js';
import { DEFAULT_CONFIG_PATH } from '../../config/load.js';
import { Daemon } from '../../daemon/daemon.js';
import { ConfigError, WanbraidError, errorMessage } from '../../errors.js';
import { defaultNotifier } from '../../daemon/sdnotify.js';
import { problems } from '../../daemon/preflight.js';

export const run: Command = {
  summary: 'run the daemon in the foreground (what systemd starts)',
  usage: `usage: wanbraid run [-c FILE]

Runs the daemon in the foreground, logging JSON lines to stdout. SIGTERM or SIGINT stop it cleanly
(everything it created in the kernel is removed); SIGHUP reloads the configuration (an invalid one,
or one needing something missing here, is refused and the running one stays in force).

Before anything is created, the tools and kernel features the configuration needs are checked
(nft, nftables table inet, nexthop objects, conntrack netlink, the native addon; see wanbraid check):
a missing one refuses the start with one line naming it and how to get it (exit 1).
systemd hears READY=1 once the plan applied without failures; failed applies are retried with backoff.

  -c, --config FILE   configuration file (default ${DEFAULT_CONFIG_PATH})`,
  async run(argv, io) {
    const { values } = parse('run', argv, { config: { type: 'string', short: 'c', default: DEFAULT_CONFIG_PATH } });
    let daemon: Daemon;
    try {
      daemon = Daemon.load({ configPath: values.config, notifier: defaultNotifier((err) => io.err(`wanbraid run: sd_notify: ${errorMessage(err)}`)) });
    } catch (err) {
      if (err instanceof ConfigError || err instanceof WanbraidError) {
        io.err(`wanbraid run: refusing to start: ${err.message}`);
        return EXIT_FAIL;
      }
      throw err;
    }
    const system = await daemon.preflight();
    const missing = problems(system);
    if (missing.length > 0) {
      for (const line of missing) io.err(`wanbraid run: refusing to start: ${line}`);
      return EXIT_FAIL;
    }
    const log = daemon.log;
    let stopping: Promise<number> | undefined;
    let resolveExit!: (code: number) => void;
    const exit = new Promise<number>((r) => (resolveExit = r));

    const shutdown = (code: number, why: string) => {
      if (stopping) return stopping;
      log.info({ reason: why }, 'shutdown requested');
      stopping = daemon.stop().then(
        () => code,
        (err: unknown) => {
          log.error({ err }, 'clean stop failed');
          return EXIT_FAIL;
        },
      );
      void stopping.then(resolveExit);
      return stopping;
    };
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal: sig }, 'second signal: exiting without cleanup');
        process.exit(EXIT_FAIL);
      }
      void shutdown(EXIT_OK, sig);
    };
    const onHup = () => void daemon.reload();
    const onFatal = (err: unknown) => {
      log.fatal({ err }, 'internal error');
      void shutdown(EXIT_FAIL, 'internal error');
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHup);
    process.on('uncaughtException', onFatal);
    process.on('unhandledRejection', onFatal);
    try {
      await daemon.start();
    } catch (err) {
      log.fatal({ err }, `start failed: ${errorMessage(err)}`);
      await daemon.stop().catch((e: unknown) => log.error({ err: e }, 'cleanup after failed start'));
      io.err(`wanbraid run: start failed: ${errorMessage(err)}`);
      return EXIT_FAIL;
    }
    const code = await exit;
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHup);
    await new Promise<void>((r) => log.flush(() => r()));
    return code;
  },
};
