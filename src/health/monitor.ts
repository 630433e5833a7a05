/**
 * The kernel monitor: keeps a {@link KernelTable} true from a {@link KernelSource} and says when it
 * changed. Subscribes first, then dumps, then applies the events that arrived during the dump (a
 * `new` repeats what the dump said; a `del` that raced the dump removes what is gone), so no change
 * falls between the two. A lost event stream (the source's `onError`, e.g. ENOBUFS) is healed by a
 * fresh dump. Listeners run synchronously on each relevant change, in kernel order.
 */
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { KernelEvent, KernelSource } from './kernel.js';
import { KernelTable } from './observe.js';

export class KernelMonitor {
  private tableValue = new KernelTable();
  private buffering: KernelEvent[] | undefined;
  private listeners: (() => void)[] = [];
  private resyncing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly source: KernelSource,
    private readonly logger: Logger,
  ) {}

  get table(): KernelTable {
    return this.tableValue;
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  async start(): Promise<void> {
    this.buffering = [];
    await this.source.subscribe(
      (e) => this.onEvent(e),
      (err) => this.onStreamError(err),
    );
    await this.dump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.source.close();
  }

  /** Dump again and replace the table (after a lost event stream). */
  resync(): Promise<void> {
    this.resyncing ??= (async () => {
      this.buffering = [];
      try {
        await this.dump();
      } finally {
        this.resyncing = undefined;
      }
    })();
    return this.resyncing;
  }

  private async dump(): Promise<void> {
    try {
      const snap = await this.source.dump();
      const table = KernelTable.from(snap);
      for (const e of this.buffering ?? []) table.apply(e);
      this.tableValue = table;
    } finally {
      this.buffering = undefined;
    }
    this.emit();
  }

  private onEvent(e: KernelEvent): void {
    if (this.stopped) return;
    if (this.buffering) {
      this.buffering.push(e);
      return;
    }
    if (this.tableValue.apply(e)) this.emit();
  }

  private onStreamError(err: Error): void {
    if (this.stopped) return;
    this.logger.warn({ op: 'kernel-monitor', err: errorMessage(err) }, 'rtnetlink event stream lost; dumping again');
    this.resync().catch((e: unknown) => this.logger.error({ op: 'kernel-monitor', err: errorMessage(e) }, 'rtnetlink dump failed'));
  }

  private emit(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (err) {
        this.logger.error({ op: 'kernel-monitor', err: errorMessage(err) }, 'kernel change listener failed');
      }
    }
  }
}
