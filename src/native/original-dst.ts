/**
 * The destination a client asked for before an nftables `redirect` sent its TCP connection to
 * us (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST through the addon).
 *
 * Contract: call it on an accepted connection while it is open. The family is the connection's:
 * an IPv4 client on a dual-stack `::` listener (remote `::ffff:a.b.c.d`) asks the IPv4 table.
 * A connection that was tracked but not NATed (the client connected to the listener directly)
 * yields the listener's own address and port: compare with `socket.localAddress`/`localPort` to
 * tell a hand-off from a direct connection. Throws {@link NativeCallError} with errno `ENOENT`
 * when conntrack has no entry for the connection (e.g. not tracked at all), and WB_NATIVE when
 * the socket has no file descriptor (closed, or not a kernel TCP socket).
 */
import type { Socket } from 'node:net';
import { isIPv4 } from 'node:net';
import { nativeAddon } from './addon.js';
import { NativeCallError } from './errors.js';
import { WanbraidError } from '../errors.js';
import type { Family } from '../config/values.js';

export interface OriginalDestination {
  address: string;
  port: number;
  family: Family;
}

/** The family of a connection from its peer's address as Node reports it. */
export function connectionFamily(remoteAddress: string): Family {
  if (isIPv4(remoteAddress)) return 4;
  if (/^::ffff:/i.test(remoteAddress) && isIPv4(remoteAddress.slice(7))) return 4;
  return 6;
}

/** Raw form: the original destination of the TCP socket `fd` of the given family. */
export function getOriginalDst(fd: number, family: Family): OriginalDestination {
  const addon = nativeAddon();
  try {
    return { ...addon.getOriginalDst(fd, family), family };
  } catch (err) {
    throw new NativeCallError(`original destination of fd ${fd}`, err);
  }
}

/** The original destination of an accepted connection (Node exposes its fd as `_handle.fd` on Linux). */
export function originalDestination(socket: Socket): OriginalDestination {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  const remote = socket.remoteAddress;
  if (typeof fd !== 'number' || fd < 0 || remote === undefined) {
    throw new WanbraidError('WB_NATIVE', 'original destination: the socket has no file descriptor (closed, or not a kernel TCP socket)');
  }
  try {
    return getOriginalDst(fd, connectionFamily(remote));
  } catch (err) {
    if (err instanceof NativeCallError) throw new NativeCallError(`original destination of the connection from ${remote}`, err.cause);
    throw err;
  }
}
