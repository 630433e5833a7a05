/**
 * The only module that touches the `netlink` package: a NETLINK_ROUTE socket that sends and
 * receives whole datagrams. We use the package's lowest layer (RawNetlinkSocket) and frame
 * messages ourselves, because its higher layer (NetlinkSocket/RtNetlinkSocket) keeps one
 * multipart buffer per socket (a dump interleaved with another reply or an event is cut short),
 * turns kernel errors into `Error('Request rejected: EEXIST')` strings, and drops the
 * NLM_F_DUMP_INTR flag and the extended-ack attributes.
 *
 * Limits of the package, version 0.3.0: it exposes no generic setsockopt, so NETLINK_EXT_ACK
 * (kernel error texts) and NETLINK_GET_STRICT_CHK (kernel-side dump filters) cannot be enabled.
 */
import { RawNetlinkSocket, Protocol } from 'netlink';

/** What the socket layer reports: an errno-like error with the libuv name in `code`. */
export interface SocketError extends Error {
  code?: string;
}

export interface SocketHandlers {
  /** One received datagram (one or more netlink messages). */
  message(datagram: Buffer): void;
  /** A receive failure; `code` ENOBUFS means the kernel dropped messages because we read too slowly. */
  error(err: SocketError): void;
}

export interface SocketOptions {
  /** Multicast groups to join (RTNLGRP_* numbers). */
  groups: readonly number[];
  /** SO_RCVBUF in bytes (the kernel caps it at net.core.rmem_max and doubles it). */
  recvBufferBytes: number;
}

/** A datagram socket to the kernel's rtnetlink. */
export interface RouteSocket {
  send(datagram: Buffer): Promise<void>;
  /** Keep the event loop alive (while requests are pending, or while a monitor runs). */
  ref(): void;
  unref(): void;
  close(): void;
}

export type SocketFactory = (handlers: SocketHandlers, opts: SocketOptions) => RouteSocket;

/** Open a real NETLINK_ROUTE socket. */
export const openRouteSocket: SocketFactory = (handlers, opts) => {
  const raw = new RawNetlinkSocket(Protocol.ROUTE, { recvBufferSize: opts.recvBufferBytes, sendBufferSize: 0 });
  raw.on('message', (b) => handlers.message(b));
  raw.on('truncatedMessage', () => {
    const e: SocketError = new Error('netlink message truncated');
    e.code = 'EMSGSIZE';
    handlers.error(e);
  });
  raw.on('error', (e) => handlers.error(e));
  try {
    for (const g of opts.groups) raw.addMembership(g);
  } catch (e) {
    raw.close();
    throw e;
  }
  let open = true;
  return {
    send: (datagram) =>
      new Promise<void>((resolve, reject) => {
        if (!open) return reject(Object.assign(new Error('netlink socket is closed'), { code: 'EBADF' }));
        raw.send(datagram, {}, (err) => (err ? reject(err) : resolve()));
      }),
    ref: () => open && raw.ref(),
    unref: () => open && raw.unref(),
    close: () => {
      if (!open) return;
      open = false;
      raw.close();
    },
  };
};
