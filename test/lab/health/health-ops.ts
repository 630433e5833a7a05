/**
 * Lab driver ops for link health: a HealthManager with the real rtnetlink source and the real
 * probers, inside the namespace the driver runs in (the router). Streams every view change on
 * `change` (with the child's wall-clock time) and every log line on `log`. Used by the health lab
 * tests and by bench/health.bench.ts.
 *
 *   health.start {config}          → views        health.reload {config} → views
 *   health.override {link, action} → view         health.status          → HealthStatus
 *   health.metrics                 → text         health.cpu             → process.cpuUsage() + wall ms
 *   health.stop
 */
import { Writable } from 'node:stream';
import type { OpContext } from '../harness/driver.js';
import { validateConfig } from '../../../src/config/load.js';
import { createLogger } from '../../../src/log.js';
import { HealthManager } from '../../../src/health/manager.js';
import { RtnlKernelSource } from '../../../src/health/rtnl-source.js';
import { createProber } from '../../../src/health/probers/index.js';
import { RTPROT_WANBRAID } from '../../../src/kernel/rtnl/index.js';
import { formatMetrics } from '../../../src/status/metrics.js';
import type { OperatorAction } from '../../../src/health/overrides.js';
import type { LinkView } from '../../../src/model.js';

let manager: HealthManager | undefined;

function need(): HealthManager {
  if (!manager) throw new Error('health.start first');
  return manager;
}

export interface ChangeEvent {
  /** Epoch milliseconds in the driver when the change was emitted. */
  at: number;
  view: LinkView;
  prev: LinkView | undefined;
}

export const ops = {
  'health.start': async (args: { config: unknown; logLevel?: 'info' | 'debug' }, ctx: OpContext) => {
    if (manager) throw new Error('already started');
    const config = validateConfig(args.config);
    const dest = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) ctx.emit('log', JSON.parse(l) as unknown);
        cb();
      },
    });
    const m = new HealthManager({
      logger: createLogger(args.logLevel ?? 'info', dest),
      config,
      kernel: new RtnlKernelSource(),
      createProber,
      ownRouteProtocol: RTPROT_WANBRAID,
    });
    m.on('change', (view, prev) => ctx.emit('change', { at: Date.now(), view, prev } satisfies ChangeEvent));
    manager = m;
    await m.start();
    return m.views();
  },
  'health.reload': (args: { config: unknown }) => {
    need().reload(validateConfig(args.config));
    return need().views();
  },
  'health.override': (args: { link: string; action: OperatorAction }) => need().override(args.link, args.action),
  'health.status': () => need().status(),
  'health.metrics': () => formatMetrics(need().metrics()),
  'health.cpu': () => ({ ...process.cpuUsage(), wallMs: performance.now() }),
  'health.stop': async () => {
    await manager?.stop();
    manager = undefined;
  },
};

export async function close(): Promise<void> {
  await manager?.stop();
}
