/**
 * Conntrack flush by mark: `conntrack -D -f ipv4|ipv6 --mark VALUE/MASK`, never the whole table.
 *
 * Why the conntrack tool rather than ctnetlink from Node: the `netlink` package has no
 * ctnetlink codec, conntrack-tools is on every router that runs nftables, and the tool asks the
 * kernel for the entries matching the mark (a filtered dump) before deleting them one by one, so
 * connections on other links are never touched. A flush costs one short process per family
 * (measured in bench/). It runs in the caller's network namespace.
 *
 * conntrack exits 1 with "0 flow entries have been deleted" when nothing matched: that is a
 * successful flush of nothing, not an error.
 */
import { WanbraidError } from '../errors.js';
import { exec as defaultExec } from '../util/exec.js';
import type { ExecFn } from './nft/nft.js';

export interface ConntrackOptions {
  exec?: ExecFn;
  binary?: string;
  timeoutMs?: number;
}

export interface FlushResult {
  /** Entries deleted per family. */
  deleted: { 4: number; 6: number };
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

export class Conntrack {
  private readonly exec: ExecFn;
  private readonly bin: string;
  private readonly timeoutMs: number;

  constructor(opts: ConntrackOptions = {}) {
    this.exec = opts.exec ?? defaultExec;
    this.bin = opts.binary ?? 'conntrack';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Delete every entry, IPv4 and IPv6, whose mark & mask == value & mask. */
  async flushMark(value: number, mask: number): Promise<FlushResult> {
    if ((mask >>> 0) === 0) throw new WanbraidError('WB_INTERNAL', 'conntrack: refusing a flush with an empty mask (it would match every entry)');
    const [v4, v6] = await Promise.all([this.flushFamily(4, value, mask), this.flushFamily(6, value, mask)]);
    return { deleted: { 4: v4, 6: v6 } };
  }

  /** Entries whose mark matches, per family (for tests and status). */
  async countMark(value: number, mask: number): Promise<{ 4: number; 6: number }> {
    const count = async (f: 4 | 6): Promise<number> => {
      const r = await this.exec([this.bin, '-L', '-f', f === 4 ? 'ipv4' : 'ipv6', '--mark', `${hex(value)}/${hex(mask)}`], { allowFail: true, timeoutMs: this.timeoutMs });
      const m = /(\d+) flow entries have been shown/.exec(r.stderr);
      if (!m) throw new WanbraidError('WB_COMMAND_FAILED', `conntrack -L: ${r.stderr.trim() || `exit ${r.code}`}`);
      return Number(m[1]);
    };
    const [a, b] = await Promise.all([count(4), count(6)]);
    return { 4: a, 6: b };
  }

  private async flushFamily(family: 4 | 6, value: number, mask: number): Promise<number> {
    const argv = [this.bin, '-D', '-f', family === 4 ? 'ipv4' : 'ipv6', '--mark', `${hex(value)}/${hex(mask)}`];
    const r = await this.exec(argv, { allowFail: true, timeoutMs: this.timeoutMs });
    const m = /(\d+) flow entries have been deleted/.exec(r.stderr);
    if (m) return Number(m[1]);
    throw new WanbraidError('WB_COMMAND_FAILED', `${argv.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
}
