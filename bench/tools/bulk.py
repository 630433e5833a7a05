#!/usr/bin/env python3
"""One TCP or MPTCP bulk download, for the relay benchmark: the same tool measures the relay,
in-kernel MPTCP and a single link, so the figures compare like with like.

  bulk.py serve PORT SECONDS [--mptcp] [--bind ADDR]
      Accept one connection, send random bytes for SECONDS, close (FIN), then print
      {"sent": N, "sha256": HEX} on stdout and exit.
  bulk.py fetch HOST PORT [--mptcp] [--bind ADDR] [--tick MS]
      Connect, read until the server closes, print
      {"bytes", "seconds", "sha256", "ticks": [[ms, cumulative bytes], ...]} with a tick every
      --tick ms (default 100) from the first byte.
"""
import hashlib, json, os, socket, sys, time


def sock(family, mptcp):
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_MPTCP if mptcp else socket.IPPROTO_TCP)


def fam(addr):
    return socket.AF_INET6 if ':' in addr else socket.AF_INET


def opt(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def serve(args):
    port, seconds = int(args[0]), float(args[1])
    bind = opt(args, '--bind', '0.0.0.0')
    s = sock(fam(bind), '--mptcp' in args)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    s.listen(1)
    print(json.dumps({"listening": port}), flush=True)
    c, _ = s.accept()
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    sent = 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            off = (sent * 7919) % (len(block) - 65536)
            chunk = block[off:off + 65536]
            n = c.send(chunk)
            h.update(chunk[:n])
            sent += n
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
    except (BrokenPipeError, ConnectionResetError) as e:
        print(json.dumps({"sent": sent, "sha256": h.hexdigest(), "error": str(e)}), flush=True)
        return
    c.close()
    print(json.dumps({"sent": sent, "sha256": h.hexdigest()}), flush=True)


def fetch(args):
    host, port = args[0], int(args[1])
    tick = float(opt(args, '--tick', '100')) / 1000
    s = sock(fam(host), '--mptcp' in args)
    bind = opt(args, '--bind')
    if bind:
        s.bind((bind, 0))
    s.connect((host, port))
    h = hashlib.sha256()
    got = 0
    ticks = []
    t0 = None
    next_tick = 0.0
    s.settimeout(0.05)
    while True:
        try:
            b = s.recv(1 << 20)
        except socket.timeout:
            b = None
        now = time.monotonic()
        if t0 is not None:
            while now >= next_tick:
                ticks.append([round((next_tick - t0) * 1000), got])
                next_tick += tick
        if b is None:
            continue
        if not b:
            break
        if t0 is None:
            t0 = now
            next_tick = t0 + tick
        h.update(b)
        got += len(b)
    elapsed = time.monotonic() - (t0 if t0 is not None else time.monotonic())
    ticks.append([round(elapsed * 1000), got])
    s.close()
    print(json.dumps({"bytes": got, "seconds": elapsed, "sha256": h.hexdigest(), "ticks": ticks}), flush=True)


if __name__ == '__main__':
    {'serve': serve, 'fetch': fetch}[sys.argv[1]](sys.argv[2:])
