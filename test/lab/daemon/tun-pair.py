#!/usr/bin/env python3
"""Lab fixture: join two tun devices in two network namespaces into one point-to-point wire.

Run inside the namespace of the first device: tun-pair.py DEV_A NETNS_B DEV_B. Both devices must
exist already (`ip tuntap add dev NAME mode tun`); attaching gives them carrier, and this process
ending takes it away again, as when a PPP daemon dies. Prints "ready" once both are attached.
"""
import ctypes
import fcntl
import os
import select
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000


def attach(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main() -> None:
    dev_a, netns_b, dev_b = sys.argv[1:4]
    a = attach(dev_a)
    libc = ctypes.CDLL(None, use_errno=True)
    nsfd = os.open(f"/run/netns/{netns_b}", os.O_RDONLY)
    if libc.setns(nsfd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns {netns_b}")
    os.close(nsfd)
    b = attach(dev_b)
    print("ready", flush=True)
    peer = {a: b, b: a}
    while True:
        readable, _, _ = select.select([a, b], [], [])
        for fd in readable:
            packet = os.read(fd, 65535)
            try:
                os.write(peer[fd], packet)
            except OSError:
                pass  # the other side is down: the packet is lost, as on a wire


main()
