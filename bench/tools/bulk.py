#!/usr/bin/env python3
"""TCP or MPTCP bulk transfers, for the relay benchmark: the same tool measures the relay,
in-kernel MPTCP and a single link, in either direction, so the figures compare like with like.

  bulk.py serve PORT SECONDS [--mptcp] [--bind ADDR] [--conns N]
      Print {"listening": PORT}, then accept N connections (default 1), each handled at once in
      its own thread. A connection's first byte chooses its direction:
        D (download): send random bytes for SECONDS, close (FIN), wait for the client's close,
          then print {"mode": "download", "sent": N, "sha256": HEX};
        U (upload): read until the client closes, then close and print
          {"mode": "upload", "bytes", "seconds", "sha256", "ticks"} (as fetch prints).
      The listener stays open until every connection is done (MPTCP joins arrive at it), then
      exit.
  bulk.py fetch HOST PORT [--mptcp] [--bind ADDR] [--tick MS]
      Connect, send D, read until the server closes, print
      {"bytes", "seconds", "sha256", "ticks": [[ms, cumulative bytes], ...]} with a tick every
      --tick ms (default 100) from the first byte.
  bulk.py push HOST PORT SECONDS [--mptcp] [--bind ADDR]
      Connect, send U, send random bytes for SECONDS, close (FIN), wait for the server's close,
      print {"sent": N, "sha256": HEX}.

The direction byte is not part of any count or digest.
"""
import hashlib, json, os, socket, sys, threading, time

_out = threading.Lock()


def say(obj):
    with _out:
        print(json.dumps(obj), flush=True)


def sock(family, mptcp):
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_MPTCP if mptcp else socket.IPPROTO_TCP)


def fam(addr):
    return socket.AF_INET6 if ':' in addr else socket.AF_INET


def opt(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def send_for(c, seconds):
    """Send random bytes for `seconds`; return (bytes sent, sha256 of them)."""
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    sent = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        off = (sent * 7919) % (len(block) - 65536)
        chunk = block[off:off + 65536]
        n = c.send(chunk)
        h.update(chunk[:n])
        sent += n
    return sent, h.hexdigest()


def receive(s, tick):
    """Read until EOF with a tick every `tick` s from the first byte: the fetch/upload report."""
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
    return {"bytes": got, "seconds": elapsed, "sha256": h.hexdigest(), "ticks": ticks}


def drain(c):
    c.settimeout(None)
    while c.recv(65536):
        pass


def handle(c, seconds):
    mode = None
    sent = 0
    digest = hashlib.sha256().hexdigest()
    try:
        first = c.recv(1)
        if first == b'D':
            mode = 'download'
            sent, digest = send_for(c, seconds)
            c.shutdown(socket.SHUT_WR)
            drain(c)
            say({"mode": mode, "sent": sent, "sha256": digest})
        elif first == b'U':
            mode = 'upload'
            r = receive(c, 0.1)
            c.shutdown(socket.SHUT_WR)
            say({"mode": mode, **r})
        else:
            say({"mode": None, "error": f"unknown direction byte {first!r}"})
    except (BrokenPipeError, ConnectionResetError, socket.timeout) as e:
        say({"mode": mode, "sent": sent, "sha256": digest, "error": str(e)})
    finally:
        c.close()


def serve(args):
    port, seconds = int(args[0]), float(args[1])
    bind = opt(args, '--bind', '0.0.0.0')
    conns = int(opt(args, '--conns', '1'))
    s = sock(fam(bind), '--mptcp' in args)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    s.listen(conns)
    say({"listening": port})
    threads = []
    for _ in range(conns):
        c, _ = s.accept()
        t = threading.Thread(target=handle, args=(c, seconds))
        t.start()
        threads.append(t)
    # The listener stays open until every transfer is done: MPTCP's MP_JOIN SYNs for the extra
    # subflows arrive at it, one RTT of the slower path after the connection was accepted.
    for t in threads:
        t.join()
    s.close()


def connect(args, host, port):
    s = sock(fam(host), '--mptcp' in args)
    bind = opt(args, '--bind')
    if bind:
        s.bind((bind, 0))
    s.connect((host, port))
    return s


def fetch(args):
    host, port = args[0], int(args[1])
    tick = float(opt(args, '--tick', '100')) / 1000
    s = connect(args, host, port)
    s.sendall(b'D')
    r = receive(s, tick)
    s.close()
    say(r)


def push(args):
    host, port, seconds = args[0], int(args[1]), float(args[2])
    s = connect(args, host, port)
    s.sendall(b'U')
    try:
        sent, digest = send_for(s, seconds)
        s.shutdown(socket.SHUT_WR)
        drain(s)
    except (BrokenPipeError, ConnectionResetError) as e:
        say({"sent": 0, "sha256": "", "error": str(e)})
        return
    s.close()
    say({"sent": sent, "sha256": digest})


if __name__ == '__main__':
    {'serve': serve, 'fetch': fetch, 'push': push}[sys.argv[1]](sys.argv[2:])
