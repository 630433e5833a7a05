/**
 * Runs the dial supervisor alone (no daemon) inside a lab namespace with one PPPoE session, so a
 * real pppd is started with wanbraid's command line even on a kernel without PPP (where the
 * daemon refuses a PPPoE dial): `ip netns exec NS node pppd-run.js JSON`, JSON =
 * `{runDir, passwordFile, parent, attempts}`. Prints the supervisor's log lines, then
 * `{"result":{status, snapshots}}` once the session failed `attempts` times, after stopping it.
 */
import type { DialConfig } from '../../../src/config/schema.js';
import { DialSupervisor } from '../../../src/dial/supervisor.js';
import type { SessionSnapshot } from '../../../src/dial/session.js';
import { createLogger } from '../../../src/log.js';

const a = JSON.parse(process.argv[2] ?? '{}') as { runDir: string; passwordFile: string; parent: string; attempts: number };
const dial: DialConfig = {
  name: 'ppp',
  parent: a.parent,
  sessions: 1,
  method: 'pppoe',
  pppoe: { username: 'wanbraid-lab', passwordFile: a.passwordFile, mtu: 1492 },
  dial: { mode: 'sync', stagger: 200, redial: { min: 300, max: 1000 } },
  link: { weight: 1, masquerade: true, initialState: 'probing', degraded: { action: 'reduce', weight: 1 } },
};
const snapshots: SessionSnapshot[] = [];
let done!: () => void;
const finished = new Promise<void>((r) => (done = r));
const sup = new DialSupervisor({
  dials: [dial],
  runDir: a.runDir,
  logger: createLogger('debug'),
  onChange: (_link, s) => {
    snapshots.push(s);
    if (s.state === 'failed' && s.attempts >= a.attempts) done();
  },
});
const timer = setTimeout(done, 30_000);
await sup.start();
await finished;
clearTimeout(timer);
const status = sup.status();
await sup.stop();
process.stdout.write(JSON.stringify({ result: { status, snapshots } }) + '\n');
