/**
 * A raw ICMP (IPv4) or ICMPv6 socket bound to one source address, read on the event loop (the
 * addon's uv_poll_t; see native/icmp_socket.c).
 *
 * Contract: the kernel passes only echo replies addressed to `source`. Datagrams arrive as the
 * kernel delivers them — with the IPv4 header for family 4, without an IP header for family 6 —
 * and icmp-packet.ts in health/probers parses them. `send` is synchronous and non-blocking: it
 * either queues the whole message or throws a {@link NativeCallError} (ENETUNREACH, EAGAIN, …).
 * Opening needs CAP_NET_RAW. Close it when done: an open socket keeps itself (and the event loop)
 * alive.
 */
import { nativeAddon, type NativeIcmpSocket } from './addon.js';
import { NativeCallError } from './errors.js';
import type { Family } from '../config/values.js';

export interface IcmpSocketHandlers {
  /** A datagram (see the module contract for its layout) and its sender's address. */
  onDatagram(datagram: Buffer, from: string): void;
  /** A read error; the socket should be closed and reopened. */
  onError(err: NativeCallError): void;
}

export class IcmpSocket {
  readonly family: Family;
  readonly source: string;
  private native: NativeIcmpSocket | undefined;

  /** Opens the socket; throws {@link NativeCallError} (EPERM, EADDRNOTAVAIL, …) or WB_NATIVE if the addon is missing. */
  constructor(family: Family, source: string, handlers: IcmpSocketHandlers) {
    const { IcmpSocket: Native } = nativeAddon();
    this.family = family;
    this.source = source;
    try {
      this.native = new Native(family, source, (err, datagram, from) => {
        if (err) handlers.onError(new NativeCallError(`icmp socket ${source}`, err));
        else if (datagram && from !== undefined) handlers.onDatagram(datagram, from);
      });
    } catch (err) {
      throw new NativeCallError(`open icmp${family === 6 ? 'v6' : ''} socket on ${source}`, err);
    }
  }

  get closed(): boolean {
    return this.native === undefined;
  }

  /** Send one ICMP message to `address`; throws {@link NativeCallError}. */
  send(packet: Buffer, address: string): void {
    if (!this.native) throw new NativeCallError(`send to ${address}`, Object.assign(new Error('socket closed'), { code: 'EBADF' }));
    try {
      this.native.send(packet, address);
    } catch (err) {
      throw new NativeCallError(`send to ${address} from ${this.source}`, err);
    }
  }

  close(): void {
    this.native?.close();
    this.native = undefined;
  }
}
