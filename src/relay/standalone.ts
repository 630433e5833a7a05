/**
 * Runs the relay roles of a config in the foreground, without the daemon: for lab namespaces and
 * benchmarks (`ip netns exec NS node dist/src/relay/standalone.js CONFIG`). The daemon itself
 * calls startRelay directly.
 *
 * Control: newline-delimited JSON on stdin, one answer line on stdout per request:
 *   {"cmd":"status"}                       → {"ok":true,"status":RelayStatus,"cpu":{user,system} µs,"rss":bytes}
 *   {"cmd":"links","links":{NAME:{usable,ipv4?,ipv6?}}} → {"ok":true}
 *   {"cmd":"reload","config":FILE}          → {"ok":true} | {"ok":false,"error":...}
 * On start it prints {"event":"ready"} (or {"event":"error",...} and exits 1). SIGTERM, SIGINT or
 * the end of stdin stop it (exit 0). Logs go to stderr (level from WANBRAID_LOG_LEVEL, default info).
 */
import { createInterface } from 'node:readline';
import { loadConfigFile } from '../config/load.js';
import { createLogger, effectiveLevel } from '../log.js';
import { errorMessage } from '../errors.js';
import { pino } from 'pino';
import { startRelay, type LinkAddresses, type RelayHandle } from './relay.js';

function reply(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main(argv: string[]): Promise<number> {
  const file = argv[0];
  if (!file) {
    process.stderr.write('usage: standalone.js CONFIG [LINKS-JSON]\n');
    return 2;
  }
  const logger = createLogger(effectiveLevel('info'), pino.destination({ fd: 2, sync: false }));
  let relay: RelayHandle;
  try {
    const config = loadConfigFile(file);
    const links = argv[1] ? (JSON.parse(argv[1]) as Record<string, LinkAddresses>) : {};
    relay = await startRelay(config, { logger, links });
  } catch (err) {
    reply({ event: 'error', message: errorMessage(err) });
    return 1;
  }
  reply({ event: 'ready', pid: process.pid });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= relay.stop());
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    void (async () => {
      try {
        const req = JSON.parse(line) as { cmd: string; links?: Record<string, LinkAddresses>; config?: string };
        if (req.cmd === 'status') reply({ ok: true, status: relay.status(), cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
        else if (req.cmd === 'links') {
          relay.setLinks(req.links ?? {});
          reply({ ok: true });
        } else if (req.cmd === 'reload') {
          await relay.reload(loadConfigFile(req.config ?? file));
          reply({ ok: true });
        } else reply({ ok: false, error: `unknown command ${JSON.stringify(req.cmd)}` });
      } catch (err) {
        reply({ ok: false, error: errorMessage(err) });
      }
    })();
  });
  await new Promise<void>((resolve) => {
    rl.once('close', resolve);
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await stop();
  logger.flush();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`standalone relay: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
