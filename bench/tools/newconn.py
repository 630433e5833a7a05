#!/usr/bin/env python3
"""When do new connections get through again after a fault? (bench/passive-failover.bench.ts)

  newconn.py HOST PORT
      Waits for a line on stdin (written just after the fault is in place), then opens a new TCP
      connection to HOST:PORT every 10 ms (each a new flow: a new source port, a new conntrack
      entry, routed by whatever the router's plan is at that moment). Prints
      {"okMs": milliseconds from the line to the completion of the first connection that completed
      within 200 ms of its start, or null after 5 s, "attempts": n}.
"""
import json, select, socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
sys.stdin.readline()
t0 = time.monotonic()
pending = {}
attempts = 0
ok = None
next_at = t0
while ok is None and time.monotonic() - t0 < 5:
    now = time.monotonic()
    if now >= next_at:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        pending[s] = now
        attempts += 1
        next_at = now + 0.01
    if pending:
        _, w, _ = select.select([], list(pending), [], max(0.0, next_at - time.monotonic()))
    else:
        w = []
    done = time.monotonic()
    for s in w:
        start = pending.pop(s)
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        s.close()
        if err == 0 and done - start < 0.2 and ok is None:
            ok = (done - t0) * 1000
    for s, start in list(pending.items()):
        if done - start > 1:
            pending.pop(s).close()
print(json.dumps({"okMs": ok, "attempts": attempts}))
