/**
 * A kept libnftables context: nftables transactions and listings without starting an `nft`
 * process each time (issue 14: a process costs ~16 ms median and ~33 ms p99 per transaction on
 * this class of machine; the kept context ~0.2 / ~0.5 ms — bench `nft-latency`).
 *
 * Contract:
 * - {@link NftSession.open} loads libnftables (`libnftables.so.1`, which Debian's nftables package
 *   depends on) through the native addon and makes one context. It belongs to the calling process's
 *   network namespace (the daemon's). A missing addon or library is a {@link WanbraidError}
 *   (WB_NATIVE / WB_NFT_LIBRARY) naming what is missing: the caller refuses at start.
 * - {@link NftSession.run} runs one JSON document (`{"nftables": [...]}`, the same one `nft -j -f`
 *   reads) as one transaction: all or nothing. Runs are queued, one at a time, in call order. The
 *   library call itself runs on the libuv thread pool, so the event loop never waits on the kernel.
 *   A refused run is an {@link NftError} with nft's own message; the context stays usable.
 * - {@link NftSession.close} frees the context after what is queued; later runs throw.
 */
import { WanbraidError, errorMessage } from '../../errors.js';
import { nativeAddon, type NativeAddon, type NativeNftHandle } from '../../native/addon.js';
import { NftError, cleanNftMessage } from './nft.js';

/** The soname the daemon loads: libnftables' stable ABI (Debian 12: libnftables1 1.0.6). */
export const LIBNFTABLES = 'libnftables.so.1';

export interface NftSessionOptions {
  /** The library to load (default {@link LIBNFTABLES}, found by the dynamic loader). */
  library?: string;
  /** The native addon (tests). */
  addon?: Pick<NativeAddon, 'nftOpen' | 'nftRun' | 'nftClose'>;
}

export class NftSession {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private runs = 0;

  private constructor(
    private readonly addon: Pick<NativeAddon, 'nftOpen' | 'nftRun' | 'nftClose'>,
    private readonly handle: NativeNftHandle,
    /** Which library this context came from, for messages and status. */
    readonly library: string,
  ) {}

  static open(opts: NftSessionOptions = {}): NftSession {
    const library = opts.library ?? LIBNFTABLES;
    const addon = opts.addon ?? nativeAddon();
    let handle: NativeNftHandle;
    try {
      handle = addon.nftOpen(library);
    } catch (err) {
      throw new WanbraidError('WB_NFT_LIBRARY', `${errorMessage(err)} (libnftables ships with Debian's nftables package as libnftables1)`, { cause: err });
    }
    return new NftSession(addon, handle, library);
  }

  /** Transactions and listings run so far. */
  get count(): number {
    return this.runs;
  }

  /**
   * Run one JSON document; resolves with nft's JSON output (empty for a transaction). `what` names
   * the operation in errors; `commands` is how many commands the document holds.
   */
  run(text: string, opts: { what: string; commands: number; dryRun?: boolean }): Promise<string> {
    if (this.closed) return Promise.reject(new WanbraidError('WB_NFT_LIBRARY', `nft ${opts.what}: the libnftables context is closed`));
    const go = async (): Promise<string> => {
      this.runs++;
      const r = await this.addon.nftRun(this.handle, text, opts.dryRun ?? false);
      if (r.rc !== 0) throw new NftError(opts.what, cleanNftMessage(r.error || r.output || `rc ${r.rc}`), opts.commands);
      return r.output;
    };
    const p = this.tail.then(go, go);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Free the context once what is queued has run. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    this.addon.nftClose(this.handle);
  }
}
