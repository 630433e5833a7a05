#!/usr/bin/env python3
"""How long one nftables transaction takes, two ways, on the same ruleset (issue 14's apply goal):

  nft-latency.py N
      In the current network namespace (the caller makes a fresh one): load a ruleset shaped like
      wanbraid's balancer (8 link chains with counters, 6 policies with a mark -> verdict map each,
      40 classify rules), then N times re-point one policy's map (flush it and add 8 ranges, a
      weight change) as one JSON transaction:
        - "process": one `nft -j -f -` process per transaction (what the daemon does today);
        - "context": one libnftables context kept open for all of them (nft_run_cmd_from_buffer,
          through ctypes, no binding needed: libnftables.so.1 ships with nft).
      Prints {"process": [ms...], "context": [ms...], "ok": true} on stdout.
"""
import ctypes, json, subprocess, sys, time

N = int(sys.argv[1])
base = ["flush ruleset", "add table inet wbx", "add chain inet wbx pre { type filter hook prerouting priority -150; }", "add chain inet wbx classify"]
for l in range(8):
    base += [f"add chain inet wbx mark_l{l}", f"add rule inet wbx mark_l{l} meta mark set {l + 1} ct mark set meta mark counter", f"add counter inet wbx new_l{l}"]
for p in range(6):
    base += [f"add map inet wbx pick_p{p} {{ type mark : verdict; flags interval; }}", f"add chain inet wbx pol_p{p}",
             f"add rule inet wbx pol_p{p} meta mark set numgen random mod 1000", f"add rule inet wbx pol_p{p} meta mark vmap @pick_p{p}"]
for r in range(40):
    base.append(f"add rule inet wbx classify ip daddr 198.19.{r}.0/24 tcp dport {1000 + r} counter goto pol_p{r % 6}")
subprocess.run(['nft', '-f', '-'], input='\n'.join(base).encode(), check=True)


def transaction(i):
    cmds = [{"flush": {"map": {"family": "inet", "table": "wbx", "name": "pick_p0"}}}]
    lo = 0
    for l in range(8):
        w = 125 + (10 if (l + i) % 2 else -10)
        cmds.append({"add": {"element": {"family": "inet", "table": "wbx", "name": "pick_p0",
                                         "elem": [[{"range": [lo, lo + w - 1]}, {"goto": {"target": f"mark_l{l}"}}]]}}})
        lo += w
    return json.dumps({"nftables": cmds}).encode()


process = []
for i in range(N):
    b = transaction(i)
    t = time.perf_counter()
    subprocess.run(['nft', '-j', '-f', '-'], input=b, check=True)
    process.append((time.perf_counter() - t) * 1000)

lib = ctypes.CDLL('libnftables.so.1')
lib.nft_ctx_new.restype = ctypes.c_void_p
lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
ctx = lib.nft_ctx_new(0)
lib.nft_ctx_buffer_output(ctx)
lib.nft_ctx_buffer_error(ctx)
lib.nft_ctx_output_set_flags(ctx, 1 << 4)  # NFT_CTX_OUTPUT_JSON
context = []
for i in range(N):
    b = transaction(i)
    t = time.perf_counter()
    rc = lib.nft_run_cmd_from_buffer(ctx, b)
    context.append((time.perf_counter() - t) * 1000)
    if rc != 0:
        print(json.dumps({"ok": False, "error": lib.nft_ctx_get_error_buffer(ctx).decode()}))
        sys.exit(1)

# Both ways left the map as the last transaction wrote it.
listed = json.loads(subprocess.run(['nft', '-j', 'list', 'map', 'inet', 'wbx', 'pick_p0'], capture_output=True, check=True).stdout)
elems = [x for x in listed["nftables"] if "map" in x][0]["map"].get("elem", [])
print(json.dumps({"ok": len(elems) == 8, "elements": len(elems), "process": process, "context": context}))
