/*
 * sendRawIp(family: 4 | 6, mark: number, packets: Array<[packet: Buffer, dst: string]>): number
 *
 * Sends complete IP packets (header included, built by the caller: src/kernel/tcp-nudge.ts) from
 * one SOCK_RAW/IPPROTO_RAW socket, which implies IP_HDRINCL (and its IPv6 counterpart), so the
 * source address may be one this host does not own. Each packet carries SO_MARK `mark`, which
 * routing rules and nftables can select. The socket is opened for the call and closed after it:
 * the caller sends rare bursts (a dead link's connections at failover). Returns how many packets
 * the kernel took; throws {code: errno name} only when none was taken and one failed (the first
 * error). Needs CAP_NET_RAW (and CAP_NET_ADMIN for SO_MARK).
 */
#include "raw_send.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

napi_value wb_send_raw_ip(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  WB_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), NULL);
  if (argc < 3) return wb_throw_arg(env, "sendRawIp(family, mark, packets) needs 3 arguments");
  int af;
  if (wb_get_family(env, argv[0], &af) != 0) return NULL;
  uint32_t mark;
  if (napi_get_value_uint32(env, argv[1], &mark) != napi_ok) return wb_throw_arg(env, "mark must be a number");
  bool is_array = false;
  WB_NAPI(env, napi_is_array(env, argv[2], &is_array), NULL);
  if (!is_array) return wb_throw_arg(env, "packets must be an array of [Buffer, address]");
  uint32_t n;
  WB_NAPI(env, napi_get_array_length(env, argv[2], &n), NULL);

  int fd = socket(af, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return wb_throw_errno(env, "socket SOCK_RAW IPPROTO_RAW", errno);
  if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
    int e = errno;
    close(fd);
    return wb_throw_errno(env, "setsockopt SO_MARK", e);
  }
  uint32_t sent = 0;
  int first_err = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value pair, pkt, dst;
    bool pair_ok = false, is_buf = false;
    if (napi_get_element(env, argv[2], i, &pair) != napi_ok || napi_is_array(env, pair, &pair_ok) != napi_ok || !pair_ok ||
        napi_get_element(env, pair, 0, &pkt) != napi_ok || napi_get_element(env, pair, 1, &dst) != napi_ok ||
        napi_is_buffer(env, pkt, &is_buf) != napi_ok || !is_buf) {
      close(fd);
      return wb_throw_arg(env, "packets must be an array of [Buffer, address]");
    }
    void *data;
    size_t len;
    if (napi_get_buffer_info(env, pkt, &data, &len) != napi_ok) {
      close(fd);
      return wb_throw_arg(env, "packets: cannot read a Buffer");
    }
    struct sockaddr_storage ss;
    socklen_t slen = wb_get_sockaddr(env, dst, af, &ss);
    if (slen == 0) {
      close(fd);
      return NULL;
    }
    if (sendto(fd, data, len, 0, (struct sockaddr *)&ss, slen) == (ssize_t)len) sent++;
    else if (first_err == 0) first_err = errno ? errno : EIO;
  }
  close(fd);
  if (sent == 0 && first_err != 0) return wb_throw_errno(env, "sendto (raw IP)", first_err);
  napi_value out;
  WB_NAPI(env, napi_create_uint32(env, sent, &out), NULL);
  return out;
}
