/**
 * The daemon: owns the configuration, the control socket and the subsystems, and runs their
 * lifecycle. Contract:
 * - `Daemon.load` validates the configuration before anything on the system is touched; an
 *   invalid one is refused with every problem listed.
 * - `start` brings the control socket and subsystems up and applies the first plan; `ready`
 *   resolves (and systemd is told READY=1) only after that.
 * - `reload` (SIGHUP) reads the file again; an invalid file is refused and logged, and the
 *   running configuration stays in force. Reloads are serialised.
 * - `stop` (SIGTERM/SIGINT) undoes everything the daemon created, in reverse order.
 * Bad input on the control socket never reaches beyond an error reply.
 */
import { EventEmitter } from 'node:events';
import type { Config } from '../config/schema.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger, effectiveLevel, type Logger } from '../log.js';
import { WanbraidError, errorMessage, ConfigError } from '../errors.js';
import { StatusServer } from '../status/server.js';
import type { Request } from '../status/protocol.js';
import type { LinkStatus, StatusObject } from '../status/types.js';
import { describeReason, type LinkView } from '../model.js';
import { version } from '../version.js';
import { nullNotifier, type Notifier } from './notify.js';

export interface DaemonOptions {
  configPath: string;
  /** Logger to use instead of creating one from the config (tests). */
  logger?: Logger;
  notifier?: Notifier;
  env?: NodeJS.ProcessEnv;
}

export class Daemon extends EventEmitter {
  private config: Config;
  private configLoadedAt = new Date();
  private readonly startedAt = new Date();
  private readonly logger: Logger;
  private readonly notifier: Notifier;
  private server: StatusServer | undefined;
  private views = new Map<string, LinkView>();
  private reloading: Promise<void> = Promise.resolve();
  private stopped = false;
  private watchdog: NodeJS.Timeout | undefined;

  private constructor(
    private readonly opts: DaemonOptions,
    config: Config,
  ) {
    super();
    this.config = config;
    this.logger = opts.logger ?? createLogger(effectiveLevel(config.log.level, opts.env));
    this.notifier = opts.notifier ?? nullNotifier;
  }

  /** Read and validate the configuration; throws ConfigError before anything is touched. */
  static load(opts: DaemonOptions): Daemon {
    return new Daemon(opts, loadConfigFile(opts.configPath));
  }

  get log(): Logger {
    return this.logger;
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.logger.info({ config: this.opts.configPath, links: cfg.links.length, version: version() }, 'starting');
    this.server = new StatusServer({ path: cfg.status.socket, group: cfg.status.group, logger: this.logger, handler: (r) => this.handle(r) });
    await this.server.start();
    this.initialViews(cfg);
    this.notifier.ready(`${cfg.links.length} links`);
    this.startWatchdog();
    this.logger.info({ socket: cfg.status.socket }, 'ready');
  }

  /** Re-read the configuration file; keeps the running one when the new one is invalid. */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.doReload());
    return this.reloading;
  }

  private async doReload(): Promise<void> {
    if (this.stopped) return;
    this.notifier.reloading();
    let next: Config;
    try {
      next = loadConfigFile(this.opts.configPath);
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)) : [errorMessage(err)];
      this.logger.error({ config: this.opts.configPath, issues }, 'reload refused: the new configuration is invalid; the running one stays in force');
      this.publish('reload', { ok: false, issues });
      this.notifier.ready('reload refused');
      return;
    }
    if (next.status.socket !== this.config.status.socket) {
      this.logger.warn({ socket: next.status.socket }, 'status.socket changed: takes effect on restart');
      next = { ...next, status: this.config.status };
    }
    this.config = next;
    this.configLoadedAt = new Date();
    this.initialViews(next);
    this.logger.info({ config: this.opts.configPath, links: next.links.length }, 'reloaded');
    this.publish('reload', { ok: true });
    this.notifier.ready(`${next.links.length} links`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.notifier.stopping();
    if (this.watchdog) clearInterval(this.watchdog);
    this.logger.info('stopping');
    await this.reloading.catch(() => undefined);
    await this.server?.stop();
    this.logger.info('stopped');
  }

  status(): StatusObject {
    return {
      version: version(),
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      config: { file: this.opts.configPath, loadedAt: this.configLoadedAt.toISOString() },
      links: this.config.links.map((l) => this.linkStatus(l.name, l.weight)),
    };
  }

  private linkStatus(name: string, configuredWeight: number): LinkStatus {
    const v = this.views.get(name)!;
    return {
      name: v.name,
      interface: v.interface,
      state: v.state,
      since: new Date(v.since).toISOString(),
      reason: describeReason(v.reason),
      reasonKind: v.reason.kind,
      weight: v.weight,
      configuredWeight,
    };
  }

  private initialViews(cfg: Config): void {
    const next = new Map<string, LinkView>();
    const now = Date.now();
    for (const l of cfg.links) {
      const prev = this.views.get(l.name);
      next.set(
        l.name,
        prev && prev.interface === l.interface
          ? { ...prev, weight: l.weight }
          : {
              name: l.name,
              interface: l.interface,
              state: l.initialState,
              since: now,
              reason: { kind: 'initial' },
              weight: l.weight,
              observation: { ifindex: undefined, adminUp: false, carrier: false, pointToPoint: false, ipv4: undefined, ipv6: undefined },
            },
      );
    }
    this.views = next;
  }

  private publish(event: string, body: Record<string, unknown>): void {
    this.server?.publish(event, body);
    this.emit('event', event, body);
  }

  private async handle(req: Request): Promise<Record<string, unknown>> {
    switch (req.cmd) {
      case 'status':
        return { status: this.status() };
      case 'ping':
        return { pong: true };
      case 'reload':
        await this.reload();
        return { reloaded: true };
      case 'link':
      case 'set':
      case 'subscribe':
        throw new WanbraidError('WB_REQUEST_INVALID', `"${req.cmd}" is not available in this build`);
    }
  }

  private startWatchdog(): void {
    const usec = Number(this.opts.env?.WATCHDOG_USEC ?? process.env.WATCHDOG_USEC);
    const pid = this.opts.env?.WATCHDOG_PID ?? process.env.WATCHDOG_PID;
    if (!Number.isFinite(usec) || usec <= 0 || (pid !== undefined && Number(pid) !== process.pid)) return;
    const every = Math.max(100, Math.floor(usec / 1000 / 2));
    this.watchdog = setInterval(() => this.notifier.watchdog(), every);
    this.watchdog.unref();
  }
}
