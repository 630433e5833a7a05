# The wanbraid native addon (C, N-API): raw ICMP echo sockets, SO_ORIGINAL_DST, sd_notify, raw IP sends, peer credentials and a kept libnftables context.
# Built by `npm run build` (scripts/build-native.mjs → node-gyp rebuild) into build/Release/wanbraid_native.node.
# Also the lab's delay element (lab tooling only, never loaded by the daemon), a standalone program:
# build/Release/wanbraid-delay (native/delay/wanbraid-delay.c; see docs/lab.md).
{
  "targets": [
    {
      "target_name": "wanbraid_native",
      "sources": [
        "native/addon.c",
        "native/icmp_socket.c",
        "native/nft_ctx.c",
        "native/original_dst.c",
        "native/peer_cred.c",
        "native/raw_send.c",
        "native/sd_notify.c",
        "native/util.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-fvisibility=hidden"],
      "libraries": ["-ldl"]
    },
    {
      "target_name": "wanbraid-delay",
      "type": "executable",
      "sources": ["native/delay/wanbraid-delay.c"],
      "cflags_c": ["-std=c11", "-O2", "-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes"],
      "libraries": ["-lm"]
    }
  ]
}
