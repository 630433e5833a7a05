#!/usr/bin/env python3
"""The other candidate for the passive signal's input: per-link nftables counters (bench/passive-cost.bench.ts).

  nft-counters.py N IFNAME,...
      In the current network namespace (the caller makes it): a table with one named counter per
      interface, counted in a postrouting rule per interface (as the balancer's per-link chains
      count), then N reads of all of them each way:
        - "context": `list counters table inet wbx` through one libnftables context kept open
          (nft_run_cmd_from_buffer through ctypes; JSON output, parsed) -- no process per read;
        - "process": one `nft -j list counters table inet wbx` process per read (the reference);
        - "rtnl": RTM_GETSTATS over a kept AF_NETLINK socket, the same dump health makes, in the
          same language as the libnftables context (for a like-for-like comparison).
      Prints {"context": {"wallMs": [...], "cpuUs": per read}, "process": {...}, "rtnl": {...}, "counters": n}.
"""
import ctypes, json, os, resource, socket, struct, subprocess, sys, time

N = int(sys.argv[1])
IFS = [x for x in sys.argv[2].split(',') if x]
cmds = ["add table inet wbx", "add chain inet wbx post { type filter hook postrouting priority 0; }"]
for i, name in enumerate(IFS):
    cmds += [f"add counter inet wbx l{i}", f'add rule inet wbx post oifname "{name}" counter name l{i}']
subprocess.run(['nft', '-f', '-'], input='\n'.join(cmds).encode(), check=True)


def cpu_self():
    return time.process_time() * 1e6


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e6


lib = ctypes.CDLL('libnftables.so.1')
lib.nft_ctx_new.restype = ctypes.c_void_p
lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
ctx = lib.nft_ctx_new(0)
lib.nft_ctx_buffer_output(ctx)
lib.nft_ctx_buffer_error(ctx)
lib.nft_ctx_output_set_flags(ctx, 1 << 4)  # NFT_CTX_OUTPUT_JSON


def read_context():
    if lib.nft_run_cmd_from_buffer(ctx, b"list counters table inet wbx") != 0:
        raise RuntimeError('libnftables: list counters failed')
    out = json.loads(lib.nft_ctx_get_output_buffer(ctx))
    return [o['counter']['packets'] for o in out['nftables'] if 'counter' in o]


def read_process():
    r = subprocess.run(['nft', '-j', 'list', 'counters', 'table', 'inet', 'wbx'], capture_output=True, check=True)
    out = json.loads(r.stdout)
    return [o['counter']['packets'] for o in out['nftables'] if 'counter' in o]


NETLINK_ROUTE, RTM_GETSTATS, RTM_NEWSTATS, NLMSG_DONE = 0, 94, 92, 3
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
sock.bind((0, 0))
seq = [0]


def read_rtnl():
    seq[0] += 1
    body = struct.pack('=BBHiI', 0, 0, 0, 0, 1)  # if_stats_msg, filter IFLA_STATS_LINK_64
    sock.send(struct.pack('=IHHII', 16 + len(body), RTM_GETSTATS, 0x301, seq[0], 0) + body)
    out = []
    while True:
        data = sock.recv(65536)
        off = 0
        while off < len(data):
            ln, typ, _fl, _sq, _pid = struct.unpack_from('=IHHII', data, off)
            if typ == NLMSG_DONE:
                return out
            if typ == RTM_NEWSTATS:
                a = off + 16 + 12
                while a < off + ln:
                    alen, atype = struct.unpack_from('=HH', data, a)
                    if atype == 1:
                        rx, tx = struct.unpack_from('=QQ', data, a + 4)
                        out.append((rx, tx))
                    a += (alen + 3) & ~3
            off += (ln + 3) & ~3


result = {}
for name, f, cpu in [('context', read_context, cpu_self), ('process', read_process, lambda: cpu_self() + cpu_children()), ('rtnl', read_rtnl, cpu_self)]:
    for _ in range(10):
        f()
    walls = []
    c0 = cpu()
    for _ in range(N):
        t = time.perf_counter()
        n = len(f())
        walls.append((time.perf_counter() - t) * 1000)
    result[name] = {'wallMs': walls, 'cpuUs': (cpu() - c0) / N, 'entries': n}
result['counters'] = len(IFS)
print(json.dumps(result))
