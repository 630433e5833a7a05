# The wanbraid native addon (C, N-API): raw ICMP echo sockets, SO_ORIGINAL_DST, sd_notify, raw IP sends and peer credentials.
# Built by `npm run build` (scripts/build-native.mjs → node-gyp rebuild) into build/Release/wanbraid_native.node.
{
  "targets": [
    {
      "target_name": "wanbraid_native",
      "sources": [
        "native/addon.c",
        "native/icmp_socket.c",
        "native/original_dst.c",
        "native/peer_cred.c",
        "native/raw_send.c",
        "native/sd_notify.c",
        "native/util.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=c11", "-Wall", "-Wextra", "-Wshadow", "-Wstrict-prototypes", "-fvisibility=hidden"]
    }
  ]
}
