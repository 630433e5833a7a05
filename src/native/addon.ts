/**
 * Loading the native addon (build/Release/wanbraid_native.node, built from native/ by
 * `npm run build`).
 *
 * Contract: the addon is loaded on first use, not at import, so that code which never needs it
 * (config checks, unit tests, the CLI on a machine without a compiler) runs without it. A missing
 * or unloadable addon is a {@link WanbraidError} with code `WB_NATIVE` that says how to build it;
 * the loader's own error is kept as `cause`. The result is cached for the process.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { WanbraidError } from '../errors.js';

/** The addon's file name under build/Release. */
export const ADDON_FILE = 'wanbraid_native.node';

/**
 * Where the addon is, from the compiled module's place: dist/src/native/ → the package root.
 * The same layout holds in a checkout and in an installed package (package.json `files`).
 */
export const DEFAULT_ADDON_PATH = fileURLToPath(new URL(`../../../build/Release/${ADDON_FILE}`, import.meta.url));

/** A datagram callback: an error (errno `code`) or the datagram and its sender's address. */
export type RawDatagramCallback = (err: NodeJS.ErrnoException | null, datagram?: Buffer, from?: string) => void;

/** The raw socket class the addon exports (see native/icmp_socket.c for the contract). */
export interface NativeIcmpSocket {
  send(packet: Buffer, address: string): void;
  close(): void;
}

/** What native/addon.c exports. */
export interface NativeAddon {
  IcmpSocket: new (family: 4 | 6, source: string, onDatagram: RawDatagramCallback) => NativeIcmpSocket;
  getOriginalDst: (fd: number, family: 4 | 6) => { address: string; port: number };
  /** One datagram to a unix socket path ("@…" abstract): systemd's $NOTIFY_SOCKET. */
  sdNotify: (path: string, message: string) => void;
  /** Whole IP packets (header included) through an IPPROTO_RAW socket carrying SO_MARK `mark`; returns how many were sent. */
  sendRawIp: (family: 4 | 6, mark: number, packets: [packet: Buffer, dst: string][]) => number;
  /** SO_PEERCRED and SO_PEERGROUPS of a connected unix socket's peer. */
  peerCredentials: (fd: number) => PeerCredentials;
  /** A kept libnftables context (native/nft_ctx.c); throws {code: 'WB_NFT_LIBRARY'} if the library does not load. */
  nftOpen: (library: string) => NativeNftHandle;
  /** One nftables run on the thread pool; one at a time per handle. */
  nftRun: (handle: NativeNftHandle, text: string, dryRun: boolean) => Promise<NativeNftResult>;
  nftClose: (handle: NativeNftHandle) => void;
}

/** An opaque libnftables context. */
export interface NativeNftHandle {
  readonly __nftHandle: never;
}

/** What one nft_run_cmd_from_buffer() returned: rc 0 is success; output and error are nft's buffers. */
export interface NativeNftResult {
  rc: number;
  output: string;
  error: string;
}

/** Who is at the other end of a unix socket (as the kernel recorded it at connect). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  /** Primary group. */
  gid: number;
  /** Supplementary groups. */
  groups: number[];
}

let cached: NativeAddon | undefined;

/** Load (once) and return the addon; throws WB_NATIVE if it is missing or does not load. */
export function nativeAddon(path: string = DEFAULT_ADDON_PATH): NativeAddon {
  if (cached && path === DEFAULT_ADDON_PATH) return cached;
  let mod: unknown;
  try {
    mod = createRequire(import.meta.url)(path);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    throw new WanbraidError(
      'WB_NATIVE',
      missing
        ? `native addon not found at ${path}: build it with \`npm run build\` (needs a C compiler, make, python3 and Node's headers)`
        : `native addon at ${path} did not load: ${(err as Error).message}; rebuild it with \`npm run build\``,
      { cause: err },
    );
  }
  const addon = mod as Partial<NativeAddon>;
  if (typeof addon.IcmpSocket !== 'function' || typeof addon.getOriginalDst !== 'function' || typeof addon.sdNotify !== 'function' || typeof addon.sendRawIp !== 'function' || typeof addon.peerCredentials !== 'function' || typeof addon.nftRun !== 'function') {
    throw new WanbraidError('WB_NATIVE', `native addon at ${path} lacks IcmpSocket/getOriginalDst/sdNotify/sendRawIp/peerCredentials/nftRun: it is from another version; rebuild it with \`npm run build\``);
  }
  if (path === DEFAULT_ADDON_PATH) cached = addon as NativeAddon;
  return addon as NativeAddon;
}
