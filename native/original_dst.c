/*
 * getOriginalDst(fd: number, family: 4 | 6): { address: string, port: number }
 *
 * For a TCP connection accepted after an nftables `redirect` (or `dnat`), conntrack still knows
 * the destination the client asked for. SO_ORIGINAL_DST (SOL_IP) returns it for IPv4 connections
 * and IP6T_SO_ORIGINAL_DST (SOL_IPV6) for IPv6 ones. `family` is the connection's family, not the
 * socket's: an IPv4 client accepted on a dual-stack "::" listener (a v4-mapped peer) is family 4.
 * A tracked connection that was not NATed yields its own local address and port. Throws
 * {code: "ENOENT"} when conntrack has no entry for the connection (never tracked), and other
 * errno names for a bad fd or a socket that is not TCP.
 */
#include "original_dst.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Both constants are 80 and ABI; the kernel headers defining them (linux/netfilter_ipv4.h,
   linux/netfilter_ipv6/ip6_tables.h) drag in declarations that clash with glibc's. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

#include "util.h"

napi_value wb_get_original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  WB_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), NULL);
  if (argc < 2) return wb_throw_arg(env, "getOriginalDst(fd, family) needs 2 arguments");
  int32_t fd;
  if (wb_get_int(env, argv[0], 0, INT32_MAX, "fd", &fd) != 0) return NULL;
  int af;
  if (wb_get_family(env, argv[1], &af) != 0) return NULL;

  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len = af == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  int rc = af == AF_INET ? getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len)
                         : getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len);
  if (rc != 0) return wb_throw_errno(env, af == AF_INET ? "getsockopt SO_ORIGINAL_DST" : "getsockopt IP6T_SO_ORIGINAL_DST", errno);
  if (ss.ss_family != af) return wb_throw_errno(env, "getsockopt SO_ORIGINAL_DST returned another family", EAFNOSUPPORT);

  napi_value out, address, port;
  address = wb_address_string(env, (struct sockaddr *)&ss);
  if (address == NULL) return NULL;
  WB_NAPI(env, napi_create_uint32(env, wb_sockaddr_port((struct sockaddr *)&ss), &port), NULL);
  WB_NAPI(env, napi_create_object(env, &out), NULL);
  WB_NAPI(env, napi_set_named_property(env, out, "address", address), NULL);
  WB_NAPI(env, napi_set_named_property(env, out, "port", port), NULL);
  return out;
}
