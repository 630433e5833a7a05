/**
 * `wanbraid speedtest`: ask the daemon to measure a relay entry's paths against its exit (each
 * alone, download and upload, then striped), over the control socket; progress comes as
 * `speedtest` events on a subscription, the result as the reply.
 */
import { parse, EXIT_FAIL, EXIT_OK, type CliIO, type Command } from '../args.js';
import { request, subscribe, DEFAULT_SOCKET } from '../../status/client.js';
import { UsageError, WanbraidError } from '../../errors.js';
import { socketFrom } from '../socket-path.js';
import { DEFAULT_SECONDS, MAX_SECONDS, MIN_SECONDS, type Progress, type SpeedTestResult } from '../../relay/speedtest-plan.js';
import { formatSpeedTest, progressLine, speedTestComplete } from '../format-speedtest.js';

/** Longest the CLI waits for the daemon's answer (ms): the daemon bounds every phase well below this. */
const REPLY_TIMEOUT_MS = 15 * 60_000;

export interface SpeedTestArgs {
  entry: string | undefined;
  seconds: number;
  json: boolean;
  socket: string | undefined;
  config: string | undefined;
}

export function parseSpeedTestArgs(argv: string[]): SpeedTestArgs {
  const { values } = parse('speedtest', argv, {
    entry: { type: 'string', short: 'e' },
    seconds: { type: 'string', short: 't' },
    json: { type: 'boolean', default: false },
    socket: { type: 'string', short: 's' },
    config: { type: 'string', short: 'c' },
  });
  let seconds = DEFAULT_SECONDS;
  if (values.seconds !== undefined) {
    seconds = Number(values.seconds);
    if (values.seconds.trim() === '' || !Number.isFinite(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS)
      throw new UsageError(`speedtest: --seconds must be a number from ${MIN_SECONDS} to ${MAX_SECONDS}, got "${values.seconds}"`);
  }
  if (values.entry !== undefined && values.entry === '') throw new UsageError('speedtest: --entry needs a relay entry name');
  return { entry: values.entry, seconds, json: values.json, socket: values.socket, config: values.config };
}

function isProgress(e: Record<string, unknown>): e is Record<string, unknown> & Progress {
  return e.event === 'speedtest' && typeof e.done === 'number' && typeof e.label === 'string';
}

export const speedtest: Command = {
  summary: "measure a relay entry's links against its own exit: each alone, then striped",
  usage: `usage: wanbraid speedtest [--entry NAME] [--seconds N] [--json] [-s SOCKET | -c FILE]

Measures each path of a relay entry alone (download, then upload), then one flow striped over
all of them, against the entry's own exit, which must have relay.exit.speedtest: true. Rates are
payload (goodput) in Mbit/s; the striped rate is also given as a share of the sum of the paths.
Takes about (2 x paths + 2) x N seconds and fills the links meanwhile. The last result is shown
by wanbraid status and exported as metrics.

  -e, --entry NAME    the relay entry (needed when the daemon runs several)
  -t, --seconds N     seconds per phase, ${MIN_SECONDS} to ${MAX_SECONDS} (default ${DEFAULT_SECONDS})
      --json          the result as JSON
  -s, --socket PATH   control socket (default ${DEFAULT_SOCKET})
  -c, --config FILE   take the socket path from this configuration file

Exit status: 0 every phase measured, 1 a phase failed or the daemon refused, 2 usage.`,
  async run(argv, io: CliIO) {
    const args = parseSpeedTestArgs(argv);
    const path = socketFrom(args);
    const ac = new AbortController();
    const showProgress = io.progress !== undefined && !args.json;
    if (showProgress) void followProgress(path, ac.signal, io);
    let reply;
    try {
      const req: Record<string, unknown> = { cmd: 'speedtest', seconds: args.seconds };
      if (args.entry !== undefined) req.entry = args.entry;
      reply = await request(path, req, REPLY_TIMEOUT_MS);
    } finally {
      ac.abort();
      if (showProgress) io.progress!('');
    }
    if (!reply.ok) {
      io.err(`wanbraid speedtest: ${reply.error.message}`);
      return EXIT_FAIL;
    }
    const r = reply.result as SpeedTestResult | undefined;
    if (!r || !Array.isArray(r.paths)) throw new WanbraidError('WB_SOCKET_PROTOCOL', 'speedtest: the daemon sent no result');
    io.out(args.json ? JSON.stringify(r, null, 2) : formatSpeedTest(r));
    return speedTestComplete(r) ? EXIT_OK : EXIT_FAIL;
  },
};

/** Draw the daemon's progress events until aborted; a failure here only loses the bar. */
async function followProgress(path: string, signal: AbortSignal, io: CliIO): Promise<void> {
  try {
    for await (const e of subscribe(path, signal)) {
      // Events still queued when the reply came must not draw over the result.
      if (signal.aborted) return;
      if (isProgress(e)) io.progress!(progressLine(e));
    }
  } catch {
    /* no progress bar, the result still comes */
  }
}
