/*
 * wanbraid's native addon: the few socket operations Node cannot do (see
 * docs/architecture.md, "Native addon"). Exports:
 *   IcmpSocket      raw ICMP/ICMPv6 echo sockets (icmp_socket.c)
 *   getOriginalDst  SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST (original_dst.c)
 *   sdNotify        a datagram to systemd's $NOTIFY_SOCKET (sd_notify.c)
 *   sendRawIp       whole IP packets through an IPPROTO_RAW socket with a mark (raw_send.c)
 *   peerCredentials SO_PEERCRED + SO_PEERGROUPS of a unix socket's peer (peer_cred.c)
 *   nftOpen/nftRun/nftClose  a kept libnftables context (nft_ctx.c)
 * The typed TypeScript face is src/native/.
 */
#include <node_api.h>

#include "icmp_socket.h"
#include "nft_ctx.h"
#include "original_dst.h"
#include "peer_cred.h"
#include "raw_send.h"
#include "sd_notify.h"
#include "util.h"

static napi_value init(napi_env env, napi_value exports) {
  napi_value cls = wb_icmp_socket_class(env);
  if (cls == NULL) return NULL;
  WB_NAPI(env, napi_set_named_property(env, exports, "IcmpSocket", cls), NULL);
  napi_value fn;
  WB_NAPI(env, napi_create_function(env, "getOriginalDst", NAPI_AUTO_LENGTH, wb_get_original_dst, NULL, &fn), NULL);
  WB_NAPI(env, napi_set_named_property(env, exports, "getOriginalDst", fn), NULL);
  WB_NAPI(env, napi_create_function(env, "sdNotify", NAPI_AUTO_LENGTH, wb_sd_notify, NULL, &fn), NULL);
  WB_NAPI(env, napi_set_named_property(env, exports, "sdNotify", fn), NULL);
  WB_NAPI(env, napi_create_function(env, "sendRawIp", NAPI_AUTO_LENGTH, wb_send_raw_ip, NULL, &fn), NULL);
  WB_NAPI(env, napi_set_named_property(env, exports, "sendRawIp", fn), NULL);
  WB_NAPI(env, napi_create_function(env, "peerCredentials", NAPI_AUTO_LENGTH, wb_peer_credentials, NULL, &fn), NULL);
  WB_NAPI(env, napi_set_named_property(env, exports, "peerCredentials", fn), NULL);
  WB_NAPI(env, napi_create_function(env, "nftOpen", NAPI_AUTO_LENGTH, wb_nft_open, NULL, &fn), NULL);
  WB_NAPI(env, napi_set_named_property(env, exports, "nftOpen", fn), NULL);
  WB_NAPI(env, napi_create_function(env, "nftRun", NAPI_AUTO_LENGTH, wb_nft_run, NULL, &fn), NULL);
  WB_NAPI(env, napi_set_named_property(env, exports, "nftRun", fn), NULL);
  WB_NAPI(env, napi_create_function(env, "nftClose", NAPI_AUTO_LENGTH, wb_nft_close, NULL, &fn), NULL);
  WB_NAPI(env, napi_set_named_property(env, exports, "nftClose", fn), NULL);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
