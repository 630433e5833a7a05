/**
 * The nft adapter: batches in through `nft -j -f -` (one transaction each: all or nothing), state
 * out through `nft -j list …`. Runs in the caller's network namespace (the daemon's); tests pass
 * an `exec` that prefixes `ip netns exec NS`.
 *
 * Two transports. Whole-table installs and removals ({@link Nft.apply}, {@link Nft.check}) always
 * run the `nft` program: they are rare (start, reload, repair) and take the same path as the
 * preflight's `nft --check` and as an operator reproducing a batch by hand. Element updates
 * ({@link Nft.update}: a link state change, a runtime set change) and listings (counters, drift
 * checks) go through a kept libnftables context ({@link NftSession}) when one is given — the hot
 * path of a failover, without a process per change — and through the program otherwise.
 *
 * A refused batch becomes an {@link NftError} (code WB_NFT) carrying nft's own message; nothing
 * of the batch is applied, since nft commits a batch as one transaction.
 *
 * The batch goes through a private temporary file, not stdin: Node hands a child's stdin over as
 * a socket, and nft's `-f -` opens /dev/stdin, which fails on a socket (ENXIO).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WanbraidError } from '../../errors.js';
import { exec as defaultExec, type ExecOptions, type ExecResult } from '../../util/exec.js';
import type { NftBatch, NftFamily, NftListing, NftMapElem, NftObject, NftExpr } from './json.js';
import type { NftSession } from './session.js';

export type ExecFn = (argv: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

export class NftError extends WanbraidError {
  /** nft's stderr, trimmed. */
  readonly nftMessage: string;
  readonly commands: number;
  constructor(what: string, nftMessage: string, commands: number) {
    super('WB_NFT', `nft ${what} refused (${commands} command${commands === 1 ? '' : 's'}): ${nftMessage}`);
    this.name = 'NftError';
    this.nftMessage = nftMessage;
    this.commands = commands;
  }
}

export interface NftOptions {
  exec?: ExecFn;
  /** The nft binary (default `nft` from PATH). */
  binary?: string;
  timeoutMs?: number;
  /** A kept libnftables context for updates and listings (see the module comment). */
  session?: NftSession;
}

/** Packets and bytes of a named counter. */
export interface CounterValue {
  packets: number;
  bytes: number;
}

export class Nft {
  private readonly exec: ExecFn;
  private readonly bin: string;
  private readonly timeoutMs: number;
  private readonly session: NftSession | undefined;

  constructor(opts: NftOptions = {}) {
    this.exec = opts.exec ?? defaultExec;
    this.bin = opts.binary ?? 'nft';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.session = opts.session;
  }

  /** Which transport updates and listings take. */
  get transport(): 'libnftables' | 'process' {
    return this.session ? 'libnftables' : 'process';
  }

  /** Apply a batch as one transaction through the `nft` program (`nft -j -f FILE`): installs, removals. */
  async apply(batch: NftBatch): Promise<void> {
    await this.run(['-j', '-f'], 'batch', batch);
  }

  /** Apply a batch as one transaction through the kept context when there is one: element updates. */
  async update(batch: NftBatch): Promise<void> {
    if (batch.nftables.length === 0) return;
    if (!this.session) return this.apply(batch);
    await this.session.run(JSON.stringify(batch), { what: 'batch', commands: batch.nftables.length });
  }

  /** Free the kept context, if any. */
  async close(): Promise<void> {
    await this.session?.close();
  }

  /** Ask the kernel whether it would accept the batch, changing nothing (`nft -j --check -f FILE`). */
  async check(batch: NftBatch): Promise<void> {
    await this.run(['-j', '--check', '-f'], 'check', batch);
  }

  /** Every table as `{family, name}`. */
  async listTables(): Promise<{ family: NftFamily; name: string }[]> {
    const out: { family: NftFamily; name: string }[] = [];
    for (const o of await this.list(['list', 'tables'])) if ('table' in o) out.push({ family: o.table.family, name: o.table.name });
    return out;
  }

  /** The objects of one table, or undefined when it does not exist. */
  async listTable(family: NftFamily, name: string): Promise<NftObject[] | undefined> {
    if (!(await this.listTables()).some((t) => t.family === family && t.name === name)) return undefined;
    return this.list(['list', 'table', family, name]);
  }

  /** The whole ruleset (tests compare it before and after). */
  async listRuleset(): Promise<NftObject[]> {
    return this.list(['list', 'ruleset']);
  }

  /** Named counters of a table. */
  async counters(family: NftFamily, table: string): Promise<Map<string, CounterValue>> {
    const out = new Map<string, CounterValue>();
    for (const o of await this.list(['list', 'counters', 'table', family, table])) {
      if ('counter' in o) out.set(o.counter.name, { packets: o.counter.packets ?? 0, bytes: o.counter.bytes ?? 0 });
    }
    return out;
  }

  /** Elements of a named set. */
  async setElements(family: NftFamily, table: string, name: string): Promise<NftExpr[]> {
    for (const o of await this.list(['list', 'set', family, table, name])) if ('set' in o) return o.set.elem ?? [];
    return [];
  }

  /** Elements of a named map. */
  async mapElements(family: NftFamily, table: string, name: string): Promise<NftMapElem[]> {
    for (const o of await this.list(['list', 'map', family, table, name])) if ('map' in o) return o.map.elem ?? [];
    return [];
  }

  private async list(args: string[]): Promise<NftObject[]> {
    let text: string;
    if (this.session) {
      text = await this.session.run(args.join(' '), { what: args.join(' '), commands: 1 });
    } else {
      const r = await this.exec([this.bin, '-j', ...args], { allowFail: true, timeoutMs: this.timeoutMs });
      if (r.code !== 0) throw new NftError(args.join(' '), cleanNftMessage(r.stderr || r.stdout), 1);
      text = r.stdout;
    }
    const doc = JSON.parse(text.trim() || '{"nftables":[]}') as NftListing;
    return doc.nftables.filter((o): o is NftObject => !('metainfo' in o));
  }

  private async run(args: string[], what: string, batch: NftBatch): Promise<void> {
    if (batch.nftables.length === 0) return;
    const dir = mkdtempSync(join(tmpdir(), 'wanbraid-nft-'));
    const file = join(dir, 'batch.json');
    try {
      writeFileSync(file, JSON.stringify(batch), { mode: 0o600 });
      const r = await this.exec([this.bin, ...args, file], { allowFail: true, timeoutMs: this.timeoutMs });
      if (r.code !== 0) throw new NftError(what, cleanNftMessage(r.stderr || r.stdout || `exit ${r.code}`), batch.nftables.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** nft prefixes JSON input errors with `internal:0:0-0: Error: `; keep the message, one line per problem. */
export function cleanNftMessage(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^internal:\d+:\d+-\d+:\s*/, '').trim())
    .filter(Boolean);
  return [...new Set(lines)].slice(0, 5).join(' | ') || 'no message';
}
