/**
 * The nft adapter: batches in through `nft -j -f -` (one transaction each: all or nothing), state
 * out through `nft -j list …`. Runs in the caller's network namespace (the daemon's); tests pass
 * an `exec` that prefixes `ip netns exec NS`.
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

  constructor(opts: NftOptions = {}) {
    this.exec = opts.exec ?? defaultExec;
    this.bin = opts.binary ?? 'nft';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Apply a batch as one transaction (`nft -j -f FILE`). */
  async apply(batch: NftBatch): Promise<void> {
    await this.run(['-j', '-f'], 'batch', batch);
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
    const r = await this.exec([this.bin, '-j', ...args], { allowFail: true, timeoutMs: this.timeoutMs });
    if (r.code !== 0) throw new NftError(args.join(' '), clean(r.stderr || r.stdout), 1);
    const doc = JSON.parse(r.stdout || '{"nftables":[]}') as NftListing;
    return doc.nftables.filter((o): o is NftObject => !('metainfo' in o));
  }

  private async run(args: string[], what: string, batch: NftBatch): Promise<void> {
    if (batch.nftables.length === 0) return;
    const dir = mkdtempSync(join(tmpdir(), 'wanbraid-nft-'));
    const file = join(dir, 'batch.json');
    try {
      writeFileSync(file, JSON.stringify(batch), { mode: 0o600 });
      const r = await this.exec([this.bin, ...args, file], { allowFail: true, timeoutMs: this.timeoutMs });
      if (r.code !== 0) throw new NftError(what, clean(r.stderr || r.stdout || `exit ${r.code}`), batch.nftables.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** nft prefixes JSON input errors with `internal:0:0-0: Error: `; keep the message, one line per problem. */
function clean(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^internal:\d+:\d+-\d+:\s*/, '').trim())
    .filter(Boolean);
  return [...new Set(lines)].slice(0, 5).join(' | ') || 'no message';
}
