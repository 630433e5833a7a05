/** `wanbraid events`: follow the daemon's event stream (link changes, passive-signal suspicions, plans applied, errors, reloads). */
import { parse, EXIT_OK, type Command } from '../args.js';
import { subscribe, DEFAULT_SOCKET } from '../../status/client.js';
import { socketFrom } from '../socket-path.js';

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** One event as a line for people. */
export function human(e: Record<string, unknown>): string {
  const { event, time, ...rest } = e;
  const t = typeof time === 'string' ? time.slice(11, 23) : '';
  switch (event) {
    case 'link':
      return `${t} link ${str(rest.link)}: ${str(rest.prev ?? '-')} → ${str(rest.state)}${rest.reason ? ` (${str(rest.reason)})` : ''}`;
    case 'plan':
      return `${t} plan ${rest.ok ? 'applied' : 'FAILED'} in ${String(rest.durationMs)} ms (${String(rest.why)})${Array.isArray(rest.failures) && rest.failures.length > 0 ? `: ${rest.failures.join('; ')}` : ''}`;
    case 'passive':
      switch (rest.kind) {
        case 'suspect':
          return `${t} passive ${str(rest.link)}: suspect, ${String(rest.txPackets)} packets out and nothing in for ${String(rest.silenceMs)} ms (threshold ${String(rest.thresholdMs)} ms); burst of ${String(rest.probes)} probes`;
        case 'cleared':
          return `${t} passive ${str(rest.link)}: cleared ${rest.by === 'traffic' ? 'by traffic coming back' : `by the burst (${String(rest.answered)} targets answered)`}`;
        case 'confirmed':
          return `${t} passive ${str(rest.link)}: confirmed, ${String(rest.lost)}/${String(rest.sent)} burst probes lost`;
      }
      return `${t} passive ${JSON.stringify(rest)}`;
    default:
      return `${t} ${String(event)} ${JSON.stringify(rest)}`;
  }
}

export const events: Command = {
  summary: 'follow link changes, plans applied, reloads and errors as they happen',
  usage: `usage: wanbraid events [--json] [-s SOCKET | -c FILE]

Prints one line per event until interrupted (Ctrl-C) or the daemon stops.

      --json          one JSON object per line, as the socket sends them
  -s, --socket PATH   control socket (default ${DEFAULT_SOCKET})
  -c, --config FILE   take the socket path from this configuration file`,
  async run(argv, io) {
    const { values } = parse('events', argv, { json: { type: 'boolean', default: false }, socket: { type: 'string', short: 's' }, config: { type: 'string', short: 'c' } });
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGINT', stop);
    try {
      for await (const e of subscribe(socketFrom(values), ac.signal)) {
        if (!('event' in e)) continue; // the reply to subscribe itself
        io.out(values.json ? JSON.stringify(e) : human(e));
      }
    } finally {
      process.off('SIGINT', stop);
    }
    return EXIT_OK;
  },
};
